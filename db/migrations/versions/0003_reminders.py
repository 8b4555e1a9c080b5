"""reminder snoozes; outbox claim index with urgent rows first

Revision ID: 0003_reminders
Revises: 0002_checkin
Create Date: 2026-11-26 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_reminders"
down_revision: str | None = "0002_checkin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder_snooze",
        sa.Column("identity_id", sa.BigInteger(), nullable=False),
        sa.Column("assignment_id", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identity.id"],
            name=op.f("fk_reminder_snooze_identity_id_identity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_reminder_snooze_assignment_id_assignment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("identity_id", "assignment_id", name=op.f("pk_reminder_snooze")),
    )
    # Senders claim urgent rows first, then by due time: one index range, no sort.
    op.create_index(
        "ix_outbox_claim",
        "outbox",
        [sa.text("urgent DESC"), "not_before", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_outbox_claim", table_name="outbox", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_table("reminder_snooze")
