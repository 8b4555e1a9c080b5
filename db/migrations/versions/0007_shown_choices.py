"""shown_choices: the buttons a chat without buttons was last shown, as a numbered list

Zalo has no keyboards: choices go out as "1. ...", "2. ..." and the person types
the number or the label. The channel keeps the last list per chat here (not in
memory) so any process, after any restart, reads the answer the same way.

Revision ID: 0007_shown_choices
Revises: 0006_processed_update_at
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_shown_choices"
down_revision: str | None = "0006_processed_update_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shown_choices",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat_id"),
    )


def downgrade() -> None:
    op.drop_table("shown_choices")
