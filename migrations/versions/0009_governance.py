"""governance: version lifecycle stage and traffic share, transitions (approvals and
rollbacks among them), versioned gate policies, gate evaluations, model card revisions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_version") as batch:
        batch.add_column(
            sa.Column("stage", sa.String(length=20), nullable=False, server_default="registered")
        )
        batch.add_column(sa.Column("traffic_share", sa.Float(), nullable=True))
    op.create_table(
        "gate_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("conditions", backend.models.base.JsonValue, nullable=False),
        sa.Column("approval_max_age_hours", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model.id"], name=op.f("fk_gate_policy_model_id_model")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_gate_policy_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_policy")),
        sa.UniqueConstraint("model_id", "revision", name=op.f("uq_gate_policy_model_id_revision")),
    )
    op.create_index(op.f("ix_gate_policy_project_id"), "gate_policy", ["project_id"])
    op.create_table(
        "gate_evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("conditions", backend.models.base.JsonValue, nullable=False),
        sa.Column("evaluated_by", sa.String(length=300), nullable=False),
        sa.Column("evaluated_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_gate_evaluation_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["gate_policy.id"], name=op.f("fk_gate_evaluation_policy_id_gate_policy")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_gate_evaluation_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_evaluation")),
    )
    op.create_index(op.f("ix_gate_evaluation_project_id"), "gate_evaluation", ["project_id"])
    op.create_index("ix_gate_evaluation_version", "gate_evaluation", ["model_version_id", "id"])
    op.create_table(
        "version_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=20), nullable=False),
        sa.Column("to_stage", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rollout_mode", sa.String(length=20), nullable=True),
        sa.Column("traffic_share", sa.Float(), nullable=True),
        sa.Column("gate_evaluation_id", sa.Integer(), nullable=True),
        sa.Column("rollback", sa.Boolean(), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gate_evaluation_id"],
            ["gate_evaluation.id"],
            name=op.f("fk_version_transition_gate_evaluation_id_gate_evaluation"),
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_version_transition_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_version_transition_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_transition")),
    )
    op.create_index(op.f("ix_version_transition_project_id"), "version_transition", ["project_id"])
    op.create_table(
        "model_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("content", backend.models.base.JsonValue, nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(), nullable=False),
        sa.Column("submitted_by", sa.String(length=300), nullable=True),
        sa.Column("submitted_key_id", sa.Integer(), nullable=True),
        sa.Column("submitted_person", sa.String(length=200), nullable=True),
        sa.Column("approved_by", sa.String(length=300), nullable=True),
        sa.Column("approved_person", sa.String(length=200), nullable=True),
        sa.Column("approved_at", backend.models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_model_card_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_model_card_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_card")),
        sa.UniqueConstraint(
            "model_version_id", "revision", name=op.f("uq_model_card_model_version_id_revision")
        ),
    )
    op.create_index(op.f("ix_model_card_project_id"), "model_card", ["project_id"])
    op.create_index(
        "ix_version_transition_version", "version_transition", ["model_version_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("model_card")
    op.drop_table("version_transition")
    op.drop_table("gate_evaluation")
    op.drop_table("gate_policy")
    with op.batch_alter_table("model_version") as batch:
        batch.drop_column("traffic_share")
        batch.drop_column("stage")
