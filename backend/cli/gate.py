"""``verity gate``: evaluate a version's release gate through the HTTP API and exit 0
when it passes, 1 when it fails (2 when it cannot be evaluated), for any CI
pipeline."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:8000"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(evaluation: dict[str, Any]) -> str:
    rows = [["condition", "observed", "threshold", "passed", "run", "why"]]
    for c in evaluation["conditions"]:
        rows.append(
            [
                c["condition"],
                _cell(c["observed"]),
                _cell(c["threshold"]),
                "yes" if c["passed"] else "NO",
                _cell(c["run_id"]),
                c["why"],
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        for row in rows
    ]
    verdict = "PASSED" if evaluation["passed"] else "FAILED"
    head = (
        f"gate {verdict}: {evaluation['model']} {evaluation['version']}, policy revision "
        f"{evaluation['policy_revision']}, evaluation #{evaluation['id']}"
    )
    return "\n".join([head, *lines])


def gate(
    model: Annotated[str, typer.Option(help="The model's name.")],
    version: Annotated[str, typer.Option(help="The version to evaluate.")],
    policy: Annotated[
        int | None, typer.Option(help="A gate policy revision; the current one by default.")
    ] = None,
    api_url: Annotated[str, typer.Option(envvar="VERITY_API_URL")] = DEFAULT_URL,
    api_key: Annotated[
        str, typer.Option(envvar="VERITY_API_KEY", help="A key that may read governance.")
    ] = "",
) -> None:
    """Evaluate the release gate of MODEL VERSION; exit 0 if it passes, 1 if not."""
    if not api_key:
        typer.secho("error: give an API key (--api-key or VERITY_API_KEY)", fg="red", err=True)
        raise typer.Exit(2)
    params = {"policy_revision": policy} if policy is not None else {}
    try:
        answer = httpx.post(
            f"{api_url.rstrip('/')}/v1/models/{model}/versions/{version}/gate",
            params=params,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        typer.secho(f"error: cannot reach {api_url}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    if answer.status_code != 201:
        try:
            problem = answer.json()
            detail = f"{problem.get('title')}: {problem.get('detail')}"
        except ValueError:
            detail = answer.text[:500]
        typer.secho(f"error: {answer.status_code} {detail}", fg="red", err=True)
        raise typer.Exit(2)
    evaluation = answer.json()
    typer.echo(table(evaluation))
    raise typer.Exit(0 if evaluation["passed"] else 1)
