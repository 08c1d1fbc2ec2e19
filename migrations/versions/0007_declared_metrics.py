"""declared metrics: the levels a model version promises (EU AI Act Art. 15); detector
kinds up to 40 characters ("estimated_performance")

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_version") as batch:
        batch.add_column(
            sa.Column(
                "declared_metrics",
                backend.models.base.JsonValue,
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
    for table, column in (("monitor", "kind"), ("check_run", "detector_kind")):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, type_=sa.String(length=40), existing_type=sa.String(length=20)
            )


def downgrade() -> None:
    for table, column in (("monitor", "kind"), ("check_run", "detector_kind")):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, type_=sa.String(length=20), existing_type=sa.String(length=40)
            )
    with op.batch_alter_table("model_version") as batch:
        batch.drop_column("declared_metrics")
