"""conversation: previous_at, the time of the update before the current one

The engine opens each update with one statement that also stamps
conversation.updated_at; previous_at keeps the value it replaced, so the idle
check needs no second write of the row.

Revision ID: 0005_conversation_previous_at
Revises: 0004_digest
Create Date: 2026-11-26 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_conversation_previous_at"
down_revision: str | None = "0004_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversation", sa.Column("previous_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("conversation", "previous_at")
