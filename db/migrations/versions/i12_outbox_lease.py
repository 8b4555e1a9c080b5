"""outbox.leased_by: which sender holds a claimed row

The outbox has one sender per channel at a time (a PostgreSQL advisory lock,
scheduler/leader.py). A sender that takes over after the previous one died
gives the dead sender's rows back at once (those with ``leased_by`` set)
instead of waiting for their lease to run out.

Revision ID: i12_outbox_lease
Revises: 0007_shown_choices
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i12_outbox_lease"
down_revision: str | None = "0007_shown_choices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("leased_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "leased_by")
