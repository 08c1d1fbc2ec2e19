"""The evidence pack's PDF summary (reportlab): what a compliance officer reads first.
The CSVs beside it hold every row; the PDF states the facts and totals."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from backend.models import Alert, CheckRun, Monitor

SECTIONS = (
    "Model",
    "Period",
    "Checks run",
    "Alerts and how each was handled",
    "Declared performance against observed (Art. 15)",
    "Model card and monitoring plan (Art. 72)",
    "Incidents (Art. 73)",
    "Audit chain checkpoint",
)


def _table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    cell = ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=cell, fontName="Helvetica-Bold")
    data = [
        [Paragraph(str(v) if v not in (None, "") else "–", head if i == 0 else cell) for v in row]
        for i, row in enumerate(rows)
    ]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa5b1")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def render_summary(
    *,
    facts: dict[str, Any],
    period: tuple[datetime, datetime],
    run_counts: Counter[tuple[str, str]],
    runs: Sequence[CheckRun],
    monitors: dict[int, Monitor],
    alerts: Sequence[Alert],
    checkpoint: dict[str, Any],
    generated_at: datetime,
    exported_by: str,
    declared: list[list[Any]] | None = None,
    card: Any = None,
    incidents: Sequence[Any] = (),
) -> bytes:
    styles = getSampleStyleSheet()
    h1, h2, body = styles["Title"], styles["Heading2"], styles["BodyText"]
    story: list[Any] = [
        Paragraph(f"Evidence pack: {facts['model']} {facts['version']}", h1),
        Paragraph(
            f"Generated {_when(generated_at)} by {exported_by}. Every file in this pack is "
            "listed with its SHA-256 in manifest.json, which is signed (Ed25519) in "
            "manifest.sig; verify it offline with <i>verity audit verify-pack</i>.",
            body,
        ),
        Paragraph(SECTIONS[0], h2),
        _table(
            [
                ["Fact", "Value"],
                ["Model", facts["model"]],
                ["Task", facts["task"]],
                ["Version", facts["version"]],
                ["Features", facts["features"]],
                ["Sensitive features", ", ".join(facts["sensitive_features"]) or "none"],
                ["Classes", ", ".join(map(str, facts["class_labels"] or [])) or "–"],
                ["Artifact SHA-256", facts["artifact_sha256"] or "no artifact"],
                ["Registered", facts["registered_at"]],
            ],
            [45 * mm, 125 * mm],
        ),
        Paragraph(SECTIONS[1], h2),
        Paragraph(f"From {_when(period[0])} to {_when(period[1])} (end exclusive).", body),
        Paragraph(SECTIONS[2], h2),
    ]
    kinds = sorted({kind for kind, _ in run_counts})
    statuses = sorted({status for _, status in run_counts})
    if kinds:
        story.append(
            _table(
                [["Check", *statuses, "total"]]
                + [
                    [
                        kind,
                        *[run_counts[(kind, s)] for s in statuses],
                        sum(run_counts[(kind, s)] for s in statuses),
                    ]
                    for kind in kinds
                ]
            )
        )
        flagged = [r for r in runs if r.status not in ("ok", "insufficient_data")][:40]
        if flagged:
            story += [
                Spacer(1, 3 * mm),
                Paragraph("Runs that were not ok (first 40; all in check_runs.csv):", body),
                _table(
                    [["Run", "Monitor", "Window end", "Status", "Rows", "Window SHA-256"]]
                    + [
                        [
                            r.id,
                            monitors[r.monitor_id].name if r.monitor_id in monitors else "",
                            _when(r.window_end),
                            r.status,
                            r.rows,
                            r.window_sha256[:16] + "…",
                        ]
                        for r in flagged
                    ]
                ),
            ]
    else:
        story.append(Paragraph("No check ran in this period.", body))
    story.append(Paragraph(SECTIONS[3], h2))
    if alerts:
        story.append(
            _table(
                [["Alert", "Cause", "Severity", "Opened", "Acknowledged", "Resolved", "State"]]
                + [
                    [
                        a.id,
                        a.cause,
                        a.severity,
                        _when(a.opened_at),
                        f"{_when(a.acknowledged_at)} by {a.acknowledged_by}: "
                        f"{a.acknowledge_comment or ''}"
                        if a.acknowledged_at
                        else "not acknowledged",
                        f"{_when(a.resolved_at)} by {a.resolved_by}: {a.resolve_comment or ''}"
                        if a.resolved_at
                        else "open",
                        a.state,
                    ]
                    for a in alerts
                ],
                [14 * mm, 32 * mm, 16 * mm, 24 * mm, 36 * mm, 36 * mm, 18 * mm],
            )
        )
    else:
        story.append(Paragraph("No alert was open in this period.", body))
    story.append(Paragraph(SECTIONS[4], h2))
    if declared and len(declared) > 1:
        story += [
            Paragraph(
                "The levels the version declares, against every realized and estimated value "
                "measured in the period (each in declared_performance.csv):",
                body,
            ),
            _table(declared),
        ]
    else:
        story.append(Paragraph("The version declares no metric levels.", body))
    story.append(Paragraph(SECTIONS[5], h2))
    if card is None:
        story.append(Paragraph("The version has no model card.", body))
    else:
        content = card.content
        approved = (
            f"approved by {escape(card.approved_person or '')} on {_when(card.approved_at)}"
            if card.approved_at
            else card.state
        )
        story.append(
            _table(
                [
                    ["Card", f"revision {card.revision}, {approved}"],
                    ["Intended use", escape(content.intended_use)],
                    ["Out of scope", escape(content.out_of_scope_uses or "–")],
                    ["Risk tier", f"{content.risk_tier}: {escape(content.risk_rationale)}"],
                    ["Owners", escape(", ".join(content.owners))],
                    ["Known limitations", escape(content.known_limitations or "–")],
                ],
                [45 * mm, 125 * mm],
            )
        )
        plan = card.monitoring_plan
        if plan.monitors:
            story += [
                Spacer(1, 3 * mm),
                _table(
                    [["Monitor", "Kind", "Window", "Schedule", "Alerts at"]]
                    + [
                        [m.name, m.kind, m.window, m.schedule, f"{m.alert_on} ({m.severity})"]
                        for m in plan.monitors
                    ]
                ),
            ]
        gate = (
            f"Release gate: policy revision {plan.gate_policy_revision}: "
            + "; ".join(escape(c) for c in plan.gate_conditions)
            if plan.gate_policy_revision
            else "Release gate: no gate policy."
        )
        story.append(Paragraph(gate, body))
    story.append(Paragraph(SECTIONS[6], h2))
    if incidents:
        story.append(
            _table(
                [["Incident", "Title", "Classification", "Status", "Aware", "Report due"]]
                + [
                    [
                        i.id,
                        escape(i.title),
                        i.classification.replace("_", " "),
                        i.status + (" (overdue)" if i.overdue else ""),
                        _when(i.aware_at),
                        _when(i.deadline_at) if i.deadline_at else "–",
                    ]
                    for i in incidents
                ]
            )
        )
        story.append(Paragraph("Each incident's report and timeline: incident-ID.pdf.", body))
    else:
        story.append(Paragraph("No incident in this period.", body))
    story += [
        Paragraph(SECTIONS[7], h2),
        _table(
            [
                ["Field", "Value"],
                ["Head sequence number", checkpoint["seq"]],
                ["Head hash", checkpoint["hash"]],
                ["Chain verified at export", "yes" if checkpoint["chain_verified"] else "NO"],
                ["Events in the chain", checkpoint["chain_events"]],
                ["Verification note", checkpoint["verify_reason"] or "–"],
            ],
            [45 * mm, 125 * mm],
        ),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Verity evidence pack {facts['model']} {facts['version']}",
        author="Verity",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        # Fixed metadata: the same pack contents give the same PDF bytes.
        invariant=1,
    ).build(story)
    return buffer.getvalue()
