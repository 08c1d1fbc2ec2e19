"""hardening: ingest batches and Merkle anchors, audit checkpoints, witness channels

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 04:23:27.691740
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("public_key", sa.String(length=100), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_audit_checkpoint_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
        sa.UniqueConstraint("project_id", "seq", name=op.f("uq_audit_checkpoint_project_id_seq")),
    )
    op.create_table(
        "ingest_batch",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_ingest_batch_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batch")),
    )
    with op.batch_alter_table("label", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "ingest_batch_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(
            "ix_label_project_batch", ["project_id", "ingest_batch_id"], unique=False
        )

    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("alert_id", existing_type=sa.INTEGER(), nullable=True)

    with op.batch_alter_table("notification_channel", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("witness", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "ingest_batch_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(
            "ix_prediction_project_batch", ["project_id", "ingest_batch_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_project_batch")
        batch_op.drop_column("ingest_batch_id")

    with op.batch_alter_table("notification_channel", schema=None) as batch_op:
        batch_op.drop_column("witness")

    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("alert_id", existing_type=sa.INTEGER(), nullable=False)

    with op.batch_alter_table("label", schema=None) as batch_op:
        batch_op.drop_index("ix_label_project_batch")
        batch_op.drop_column("ingest_batch_id")

    op.drop_table("ingest_batch")
    op.drop_table("audit_checkpoint")
