"""oversight: a version's serving state (active, tripped, stopped), monitors that trip
their version on a critical alert, incidents (Art. 73) and their timelines

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "serving_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=300), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_serving_state_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_serving_state_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_state")),
        sa.UniqueConstraint("model_version_id", name=op.f("uq_serving_state_model_version_id")),
    )
    op.create_index(op.f("ix_serving_state_project_id"), "serving_state", ["project_id"])
    with op.batch_alter_table("monitor") as batch:
        batch.add_column(sa.Column("trip_on", sa.String(length=20), nullable=True))
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("classification", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("aware_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.Column("deadline_at", backend.models.base.UTCDateTime(), nullable=True),
        sa.Column("deadline_warned_at", backend.models.base.UTCDateTime(), nullable=True),
        sa.Column("opened_by", sa.String(length=300), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_incident_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_incident_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_index(op.f("ix_incident_project_id"), "incident", ["project_id"])
    op.create_index("ix_incident_project_status", "incident", ["project_id", "status"])
    op.create_table(
        "incident_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", backend.models.base.JsonValue, nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("at", backend.models.base.UTCDateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_event_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_incident_event_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_event")),
    )
    op.create_index("ix_incident_event_incident", "incident_event", ["incident_id", "id"])
    op.create_table(
        "review_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("max_confidence", sa.Float(), nullable=True),
        sa.Column("sample_rate", sa.Float(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("segment", backend.models.base.JsonValue, nullable=True),
        sa.Column("flagged_windows", sa.Boolean(), nullable=False),
        sa.Column("sla_hours", sa.Float(), nullable=False),
        sa.Column("max_override_rate", sa.Float(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=300), nullable=False),
        sa.Column("updated_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_review_policy_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_review_policy_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_policy")),
        sa.UniqueConstraint("model_version_id", name=op.f("uq_review_policy_model_version_id")),
    )
    op.create_index(op.f("ix_review_policy_project_id"), "review_policy", ["project_id"])
    op.create_table(
        "review_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("reasons", backend.models.base.JsonValue, nullable=False),
        sa.Column("segment", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("queued_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=300), nullable=True),
        sa.Column("lease_expires_at", backend.models.base.UTCDateTime(), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("label", backend.models.base.JsonValue, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=300), nullable=True),
        sa.Column("decided_at", backend.models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_review_item_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_review_item_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_item")),
        sa.UniqueConstraint(
            "project_id", "event_id", name=op.f("uq_review_item_project_id_event_id")
        ),
    )
    op.create_index("ix_review_item_queue", "review_item", ["model_version_id", "state", "id"])


def downgrade() -> None:
    op.drop_table("review_item")
    op.drop_table("review_policy")
    op.drop_table("incident_event")
    op.drop_table("incident")
    with op.batch_alter_table("monitor") as batch:
        batch.drop_column("trip_on")
    op.drop_table("serving_state")
