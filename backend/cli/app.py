"""The ``verity`` console script."""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from backend.cli.gate import gate
from backend.cli.readiness import wait_until_ready
from backend.config import get_settings

app = typer.Typer(
    help="Verity: ML observability and governance control plane.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


@app.callback()
def _start() -> None:
    # Before any command: the hooks higher domains register with lower ones.
    from backend.hooks import install

    install()


app.command()(gate)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")

DEMO_PROJECT = "demo"


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _project(session: Any, name: str) -> Any:
    """The project named, or a readable refusal."""
    from backend.auth import service as auth_service
    from backend.errors import NotFound

    try:
        return auth_service.get_project(session, name=name)
    except NotFound as exc:
        raise _fail(str(exc)) from None


def _upgrade_and_bootstrap() -> None:
    from backend.auth.bootstrap import BOOTSTRAP_PROJECT, ensure_bootstrap_key
    from backend.db import get_database
    from backend.migrate import current_revision, upgrade
    from backend.retention.anchoring import anchor_legacy

    settings = get_settings()
    database = get_database(settings)
    before = current_revision(database.engine)
    upgrade(settings.resolved_database_url)
    # Records stored before the chain vouched for each one are anchored once.
    anchored = anchor_legacy(database, alerts=before is not None and before < "0004")
    if any(anchored.values()):
        typer.echo(f"anchored records stored before this version in the audit chain: {anchored}")
    token = ensure_bootstrap_key(database, settings)
    if token:
        typer.secho(
            f"\nBootstrap admin key for project '{BOOTSTRAP_PROJECT}' (shown once, store it now):\n"
            f"    {token}\n",
            fg=typer.colors.YELLOW,
        )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (and create the bootstrap admin key on a fresh store)."""
    from backend.migrate import upgrade

    if revision == "head":
        _upgrade_and_bootstrap()
    else:
        upgrade(get_settings().resolved_database_url, revision)
    typer.echo("database is at the requested revision")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' for none)."""
    from backend.migrate import downgrade

    downgrade(get_settings().resolved_database_url, revision)


@db_app.command("current")
def db_current() -> None:
    from backend.db import get_database
    from backend.migrate import current_revision, head_revision

    typer.echo(f"current: {current_revision(get_database().engine)}  head: {head_revision()}")


def api_command(host: str, port: int, workers: int, *, quiet: bool = False) -> list[str]:
    """The uvicorn command line that serves the API (also used by benchmarks and tests)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "backend.main:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "20",
        *(["--log-level", "warning"] if quiet else []),
    ]


@app.command()
def api(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Run the HTTP API (migrates the database first)."""
    _upgrade_and_bootstrap()
    os.execvp(sys.executable, api_command(host, port, workers))


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="Project name; created if it does not exist.")],
    role: Annotated[str, typer.Option(help="ingest, viewer, compliance or admin")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
) -> None:
    """Create an API key and print it once."""
    from pydantic import ValidationError

    from backend.api.actor import cli_actor
    from backend.auth import service
    from backend.auth.schemas import ApiKeyCreate
    from backend.db import get_database

    settings = get_settings()
    try:
        key_in = ApiKeyCreate.model_validate(
            {"name": name, "role": role, "expires_in_days": expires_in_days}
        )
    except ValidationError as exc:
        raise _fail("; ".join(e["msg"] for e in exc.errors())) from None
    user = getpass.getuser()
    with get_database(settings).transaction() as session:
        found = service.get_or_create_project(session, name=project, actor_label=f"cli:{user}")
        key, token = service.create_key(
            session,
            actor=cli_actor(found.id, user),
            key_in=key_in,
            server_secret=settings.secret_key,
        )
    typer.echo(f"created {key.role} key {key.prefix} in project '{project}' (shown once):")
    typer.echo(token)


@keys_app.command("list")
def keys_list(project: Annotated[str, typer.Option()]) -> None:
    """List a project's keys (never their secrets)."""
    from backend.api.actor import cli_actor
    from backend.auth import service
    from backend.db import get_database

    with get_database().transaction(read_only=True) as session:
        found = _project(session, project)
        keys = service.list_keys(session, actor=cli_actor(found.id, getpass.getuser()))
    typer.echo(f"{'prefix':<14}{'role':<12}{'state':<10}{'expires':<27}name")
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        expires = key.expires_at.isoformat() if key.expires_at else "never"
        typer.echo(f"{key.prefix:<14}{key.role:<12}{state:<10}{expires:<27}{key.name}")


@keys_app.command("revoke")
def keys_revoke(prefix: str, project: Annotated[str, typer.Option()]) -> None:
    """Revoke the key with PREFIX (the 12 hex characters after 'vt_')."""
    from backend.api.actor import cli_actor
    from backend.auth import service
    from backend.db import get_database
    from backend.errors import VerityError

    with get_database().transaction() as session:
        found = _project(session, project)
        actor = cli_actor(found.id, getpass.getuser())
        try:
            key = service.find_key_by_prefix(session, project_id=found.id, prefix=prefix)
            service.revoke_key(session, actor=actor, key_id=key.id)
        except VerityError as exc:
            raise _fail(exc.detail) from None
    typer.echo(f"revoked key {prefix}")


@audit_app.command("verify-pack")
def audit_verify_pack(
    pack: Annotated[Path, typer.Argument(help="The evidence pack (.zip).", exists=True)],
    public_key: Annotated[
        str | None,
        typer.Option(
            help="The signing key to trust: base64 (GET /v1/evidence/public-key), PEM, "
            "or @file holding either."
        ),
    ] = None,
    trust_embedded_key: Annotated[
        bool,
        typer.Option(
            help="Check the signature against the key inside the pack: proves the pack "
            "is intact, not who signed it."
        ),
    ] = False,
) -> None:
    """Verify an evidence pack offline; exits 1 naming every problem."""
    from backend.evidence.verify import public_key_from_text, verify_pack

    if public_key is None and not trust_embedded_key:
        raise _fail("pass --public-key (the key you trust) or --trust-embedded-key")
    trusted = None
    if public_key is not None:
        text = Path(public_key[1:]).read_text() if public_key.startswith("@") else public_key
        try:
            trusted = public_key_from_text(text)
        except ValueError as exc:
            raise _fail(f"--public-key: {exc}") from None
    report = verify_pack(pack.read_bytes(), trusted)
    if report.ok:
        counts = report.manifest.get("counts", {})
        checkpoint = report.manifest.get("checkpoint", {})
        typer.echo(
            f"ok      {pack.name}: {len(report.manifest.get('files', {}))} files, "
            f"{counts.get('check_runs', 0)} check runs, {counts.get('alerts', 0)} alerts, "
            f"{counts.get('audit_events', 0)} audit events; checkpoint seq "
            f"{checkpoint.get('seq')}"
            + ("" if trusted else " (signature checked against the pack's own key)")
        )
        return
    for problem in report.problems:
        typer.secho(f"BROKEN  {problem}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _read_checkpoints(paths: list[Path]) -> list[Any]:
    from backend.audit.checkpoints import Checkpoint

    found = []
    for path in paths:
        try:
            loaded = json.loads(path.read_text())
            items = loaded if isinstance(loaded, list) else [loaded]
            found += [Checkpoint.from_json(item) for item in items]
        except (OSError, ValueError) as error:
            raise _fail(f"{path}: {error}") from None
    return found


@audit_app.command("verify")
def audit_verify(
    project: Annotated[str | None, typer.Option(help="One project; all when left out.")] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            help="A signed checkpoint kept outside Verity (JSON, one or a list), e.g. a "
            "witness's copy; the chain must still hold it. Repeatable."
        ),
    ] = None,
) -> None:
    """Recompute the audit hash chain and every record it vouches for; exits 1 naming
    the first bad sequence number."""
    from backend.audit import keys
    from backend.audit import service as audit_service
    from backend.auth import service as auth_service
    from backend.db import get_database

    handed = _read_checkpoints(checkpoint or [])
    trusted = keys.trusted_public_keys(get_settings())
    failed = False
    with get_database().transaction(read_only=True) as session:
        projects = auth_service.list_projects(session)
        if project is not None:
            projects = [p for p in projects if p.name == project]
            if not projects:
                raise _fail(f"no project named '{project}'")
        for found in projects:
            result = audit_service.verify(
                session,
                project_id=found.id,
                trusted_keys=trusted,
                checkpoints=[c for c in handed if c.project_id == found.id],
            )
            if result.ok:
                checkpoint_note = (
                    f", checkpoint seq {result.checkpoint_seq}"
                    if result.checkpoint_seq is not None
                    else ", no checkpoint yet"
                )
                typer.echo(
                    f"ok      {found.name}: {result.events} events, head {result.head_hash[:16]}…,"
                    f" {result.predictions_checked} predictions, {result.labels_checked} labels,"
                    f" {result.runs_checked} runs, {result.alerts_checked} alerts"
                    f"{checkpoint_note} ({result.payloads_missing} payloads removed by retention)"
                )
            else:
                failed = True
                typer.secho(
                    f"BROKEN  {found.name}: first bad seq {result.first_bad_seq}: {result.reason}",
                    fg=typer.colors.RED,
                )
    if failed:
        raise typer.Exit(code=1)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the head of every chain that grew since its last checkpoint now (the
    scheduler does it every VERITY_AUDIT__CHECKPOINT_INTERVAL_SECONDS), send it to
    witness webhooks, and print it: keep a copy outside Verity."""
    from backend.audit import service as audit_service
    from backend.auth import service as auth_service
    from backend.db import get_database
    from backend.notifications.witness import checkpoint_and_publish

    settings = get_settings()
    database = get_database(settings)
    written = checkpoint_and_publish(database, settings)
    with database.transaction(read_only=True) as session:
        for found in auth_service.list_projects(session):
            latest = audit_service.latest_checkpoint(session, project_id=found.id)
            if latest is not None:
                typer.echo(json.dumps(latest.as_json()))
    typer.echo(f"{written} new checkpoint(s)", err=True)


def _demo_key(data_dir: Path) -> str:
    """The demo project's admin key, kept in the data dir so later runs can reuse it."""
    from backend.api.actor import cli_actor
    from backend.api.roles import Role
    from backend.auth import service
    from backend.auth.schemas import ApiKeyCreate
    from backend.auth.tokens import parse_token
    from backend.db import get_database

    settings = get_settings()
    key_file = data_dir / "demo-admin.key"
    with get_database(settings).transaction() as session:
        if key_file.exists():
            token = key_file.read_text().strip()
            parsed = parse_token(token)
            if parsed is not None:
                try:
                    service.authenticate(
                        session, raw_token=token, server_secret=settings.secret_key
                    )
                    return token
                except Exception:
                    pass
        user = getpass.getuser()
        project = service.get_or_create_project(
            session, name=DEMO_PROJECT, actor_label=f"cli:{user}"
        )
        _, token = service.create_key(
            session,
            actor=cli_actor(project.id, user),
            key_in=ApiKeyCreate(name="demo-admin", role=Role.ADMIN),
            server_secret=settings.secret_key,
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file.write_text(token + "\n")
    key_file.chmod(0o600)
    return token


@app.command()
def demo(
    url: str = "http://127.0.0.1:8000",
    rows: Annotated[int, typer.Option(min=100, max=1_000_000)] = 20_000,
) -> None:
    """Create the demo project and model, and post synthetic traffic through the API."""
    from backend.cli.demo import run_demo

    settings = get_settings()
    token = _demo_key(settings.data_dir)
    try:
        summary = run_demo(url, token, rows=rows)
    except (httpx.HTTPError, RuntimeError) as exc:
        raise _fail(f"demo traffic failed against {url}: {exc}") from None
    typer.echo(
        f"demo: model {summary['model']} v{summary['version']}: {summary['predictions']} new "
        f"predictions, {summary['labels']} labels. Demo admin key: {token}"
    )


@app.command()
def scheduler(
    once: Annotated[
        bool, typer.Option("--once", help="Run what is due now, deliver notifications, exit.")
    ] = False,
) -> None:
    """Run scheduled checks and deliver alert notifications (an APScheduler process)."""
    import logging

    from backend.observability import configure_logging
    from backend.scheduler import CheckScheduler
    from backend.tracing import configure_tracing

    configure_logging(get_settings().log_format)
    # APScheduler logs every tick at INFO; only its warnings and errors are news.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = get_settings()
    worker = CheckScheduler(settings)
    configure_tracing("verity-scheduler", worker.database.engine)
    if once:
        runs, delivered = worker.run_once()
        typer.echo(f"ran {runs} checks; notifications: {delivered or 'none due'}")
        return
    worker.run_forever()


@app.command()
def retention(
    prediction_days: Annotated[
        int | None, typer.Option(min=1, help="Overrides VERITY_RETENTION__PREDICTION_DAYS.")
    ] = None,
    audit_payload_days: Annotated[
        int | None, typer.Option(min=1, help="Overrides VERITY_RETENTION__AUDIT_PAYLOAD_DAYS.")
    ] = None,
    project: Annotated[str | None, typer.Option(help="One project; all when left out.")] = None,
) -> None:
    """Delete data past its retention now (the scheduler also does it every hour)."""
    import json

    from backend.db import get_database
    from backend.retention.service import run_retention

    database = get_database()
    projects = None
    if project is not None:
        with database.transaction(read_only=True) as session:
            projects = [_project(session, project).id]
    settings = get_settings().retention
    changes = {
        key: value
        for key, value in (
            ("prediction_days", prediction_days),
            ("audit_payload_days", audit_payload_days),
        )
        if value is not None
    }
    purge = run_retention(database, settings.model_copy(update=changes), projects=projects)
    typer.echo(json.dumps({"deleted": purge.totals()}))


@app.command()
def up(
    host: str = "127.0.0.1",
    port: int = 8000,
    dashboard_port: int = 8501,
    with_demo: Annotated[bool, typer.Option("--demo/--no-demo")] = True,
    demo_rows: int = 20_000,
) -> None:
    """Run Verity locally on the embedded SQLite default: API, scheduler and dashboard,
    plus the demo traffic and its default monitors."""
    import dashboard

    _upgrade_and_bootstrap()
    url = f"http://{host}:{port}"
    processes = [
        subprocess.Popen(api_command(host, port, 1)),
        subprocess.Popen([sys.executable, "-m", "backend.cli", "scheduler"]),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(Path(dashboard.__file__).resolve().parent / "app.py"),
                "--server.headless",
                "true",
                "--server.address",
                host,
                "--server.port",
                str(dashboard_port),
                "--browser.gatherUsageStats",
                "false",
            ],
            env={**os.environ, "VERITY_API_URL": url},
        ),
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        try:
            wait_until_ready(url, processes[0])
        except RuntimeError as exc:
            raise _fail(str(exc)) from None
        typer.secho(f"API: {url}  (OpenAPI docs at {url}/docs)", fg=typer.colors.GREEN)
        typer.secho(
            f"Dashboard: http://{host}:{dashboard_port}  (sign in with an API key)",
            fg=typer.colors.GREEN,
        )
        if with_demo:
            demo(url=url, rows=demo_rows)
        typer.echo("Verity is running; Ctrl-C stops it.")
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    app()
