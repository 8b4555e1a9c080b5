"""tip: partial index on created_at of tips still new

The daily digest lists the tips nobody has acknowledged for over 24 hours
(province-wide that was a sequential scan of tip), and the escalation job
looks for the same rows; both read only status = 'new'.

Revision ID: 0004_digest
Revises: 0003_reminders
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_digest"
down_revision: str | None = "0003_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_tip_new_created",
        "tip",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'new'"),
    )


def downgrade() -> None:
    op.drop_index("ix_tip_new_created", table_name="tip", postgresql_where=sa.text("status = 'new'"))
