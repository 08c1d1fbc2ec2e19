"""monitor segments: a monitor may run per segment of categorical features; a trailing
window may lag its schedule (late labels)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("monitor") as batch:
        batch.add_column(sa.Column("segment_by", backend.models.base.JsonValue, nullable=True))
        batch.add_column(sa.Column("segment_top_k", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("window_lag_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitor") as batch:
        batch.drop_column("window_lag_seconds")
        batch.drop_column("segment_top_k")
        batch.drop_column("segment_by")
