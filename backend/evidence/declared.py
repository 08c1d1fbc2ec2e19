"""Declared against observed (EU AI Act Art. 15): each metric level the version
declares, with every realized and estimated value the period's runs measured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.models import CheckRun

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "mae", "rmse", "mse", "mape"})
QUALITY_KINDS = ("performance", "estimated_performance")


def observations(declared: dict[str, float], runs: Sequence[CheckRun]) -> list[dict[str, Any]]:
    """One row per (declared metric, run that measured it), in window order."""
    rows = []
    for run in sorted(runs, key=lambda r: (r.window_end, r.id)):
        if run.detector_kind not in QUALITY_KINDS or not run.result:
            continue
        if run.detector_kind == "performance":
            values = run.result.get("metrics") or {}
            source = "realized"
        else:
            values = {k: v.get("value") for k, v in (run.result.get("estimates") or {}).items()}
            source = "estimated"
        for metric, level in sorted(declared.items()):
            value = values.get(metric)
            if value is None:
                continue
            met = value <= level if metric in LOWER_IS_BETTER else value >= level
            rows.append(
                {
                    "metric": metric,
                    "declared": level,
                    "source": source,
                    "value": value,
                    "met": met,
                    "check_run_id": run.id,
                    "window_start": run.window_start,
                    "window_end": run.window_end,
                }
            )
    return rows


def summary(declared: dict[str, float], rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Per declared metric: its level, how many windows met it, the worst and the
    latest value, for realized and estimated values apart."""
    table: list[list[Any]] = [
        ["Metric", "Declared", "Source", "Windows met / measured", "Worst", "Latest"]
    ]
    for metric, level in sorted(declared.items()):
        measured_any = False
        for source in ("realized", "estimated"):
            mine = [r for r in rows if r["metric"] == metric and r["source"] == source]
            if not mine:
                continue
            measured_any = True
            values = [r["value"] for r in mine]
            worst = max(values) if metric in LOWER_IS_BETTER else min(values)
            table.append(
                [
                    metric,
                    f"{level:.4g}",
                    source,
                    f"{sum(r['met'] for r in mine)} / {len(mine)}",
                    f"{worst:.4g}",
                    f"{mine[-1]['value']:.4g}",
                ]
            )
        if not measured_any:
            table.append([metric, f"{level:.4g}", "–", "0 / 0", "not measured", "–"])
    return table
