"""reorganize: assignments that close (and pass to a successor), pending reorganisations

When a unit closes (``antt unit reorganize``), its open assignments stop being
owed: ``closed_on`` is the effective date, and ``moved_to_id`` points at the
successor's assignment that took the work over (none when the unit ended). The
check-ins stay on the closed row. A mapping whose date lies in the future waits
in ``reorganization`` until the daily job applies it on that date.

Revision ID: i18_reorganize
Revises: 0007_shown_choices
Create Date: 2026-11-30 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "i18_reorganize"
down_revision: str | None = "i14_broadcast"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("assignment", sa.Column("closed_on", sa.Date(), nullable=True))
    op.add_column("assignment", sa.Column("moved_to_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_assignment_moved_to_id_assignment"),
        "assignment",
        "assignment",
        ["moved_to_id"],
        ["id"],
    )
    op.create_index(
        "ix_assignment_moved_to_id",
        "assignment",
        ["moved_to_id"],
        postgresql_where=sa.text("moved_to_id IS NOT NULL"),
    )
    op.create_index(
        "ix_unit_replaced_by_id",
        "unit",
        ["replaced_by_id"],
        postgresql_where=sa.text("replaced_by_id IS NOT NULL"),
    )
    op.create_table(
        "reorganization",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("rows", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("problems", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'failed')", name=op.f("ck_reorganization_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reorganization")),
        sa.UniqueConstraint("digest", name=op.f("uq_reorganization_digest")),
    )
    op.create_index(
        "ix_reorganization_pending",
        "reorganization",
        ["effective_on"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_reorganization_pending", table_name="reorganization")
    op.drop_table("reorganization")
    op.drop_index("ix_unit_replaced_by_id", table_name="unit")
    op.drop_index("ix_assignment_moved_to_id", table_name="assignment")
    op.drop_constraint(
        op.f("fk_assignment_moved_to_id_assignment"), "assignment", type_="foreignkey"
    )
    op.drop_column("assignment", "moved_to_id")
    op.drop_column("assignment", "closed_on")
