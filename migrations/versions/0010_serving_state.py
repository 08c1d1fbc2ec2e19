"""serving state: a version's kill switch (active, tripped, stopped); monitors that
trip their version on a critical alert

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


def downgrade() -> None:
    with op.batch_alter_table("monitor") as batch:
        batch.drop_column("trip_on")
    op.drop_table("serving_state")
