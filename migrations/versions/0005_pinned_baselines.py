"""pinned baselines: a monitor's reference dataset is pinned, never "the latest"

Monitors that followed the newest reference dataset at run time are pinned to the one
they used last (the newest now); those of versions without any dataset compare with
their first week of traffic from now on, as new default monitors do.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE monitor SET reference_dataset_id = ("
        " SELECT max(r.id) FROM reference_dataset r"
        " WHERE r.model_version_id = monitor.model_version_id)"
        " WHERE reference_kind = 'dataset' AND reference_dataset_id IS NULL"
    )
    op.execute(
        "UPDATE monitor SET reference_kind = 'first_week'"
        " WHERE reference_kind = 'dataset' AND reference_dataset_id IS NULL"
    )


def downgrade() -> None:
    # Pinned references stay valid for the earlier code, which reads a pinned id as is.
    op.execute("UPDATE monitor SET reference_kind = 'dataset' WHERE reference_kind = 'first_week'")
