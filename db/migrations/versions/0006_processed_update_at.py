"""processed_update: index on at, for the daily pruning

The record of handled update ids only has to outlive redelivery (Telegram keeps
an unconfirmed update for at most 24 hours); kept for ever it would grow without
bound and, since Telegram picks update ids at random after a week without
updates, could one day swallow a new update whose id was seen long ago.

Revision ID: 0006_processed_update_at
Revises: 0005_conversation_previous_at
Create Date: 2026-11-26 11:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_processed_update_at"
down_revision: str | None = "0005_conversation_previous_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_processed_update_at", "processed_update", ["at"])


def downgrade() -> None:
    op.drop_index("ix_processed_update_at", table_name="processed_update")
