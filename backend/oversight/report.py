"""An incident's report as PDF: what happened, its Art. 73 classification and
deadline, and its timeline."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from backend.oversight.schemas import IncidentRead


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else "–"


def render(incident: IncidentRead) -> bytes:
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    if incident.deadline_at is not None:
        deadline = f"{_when(incident.deadline_at)} (Art. 73)"
    elif incident.classification == "not_reportable":
        deadline = "none: not reportable"
    else:
        deadline = "none until it is classified"
    facts = [
        ["Model", f"{incident.model} {incident.version}"],
        ["Severity", incident.severity],
        ["Classification", incident.classification.replace("_", " ")],
        ["Status", incident.status],
        ["Aware since", _when(incident.aware_at)],
        ["Reporting deadline", deadline],
        ["Opened by", incident.opened_by],
    ]
    cell = styles["BodyText"]
    table = Table(
        [[Paragraph(escape(str(a)), cell), Paragraph(escape(str(b)), cell)] for a, b in facts],
        colWidths=[45 * mm, 125 * mm],
    )
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, "#9aa5b1")]))
    timeline = Table(
        [["When", "Who", "What"]]
        + [
            [Paragraph(_when(e.at), cell), Paragraph(escape(e.actor), cell),
             Paragraph(escape(f"[{e.kind}] {e.text}"), cell)]
            for e in incident.timeline
        ],
        colWidths=[35 * mm, 40 * mm, 95 * mm],
        repeatRows=1,
    )  # fmt: skip
    timeline.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, "#9aa5b1")]))
    story = [
        Paragraph(f"Incident {incident.id}: {escape(incident.title)}", styles["Title"]),
        table,
        Paragraph("Timeline", styles["Heading2"]),
        timeline,
        Paragraph(
            "Every line above is an event in Verity's hash-chained audit trail "
            "(actions incident.*), verifiable offline.",
            body,
        ),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=f"Incident {incident.id}").build(story)
    return buffer.getvalue()
