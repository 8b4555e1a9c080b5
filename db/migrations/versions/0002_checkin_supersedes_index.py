"""checkin: partial index on supersedes_id

The latest check-in of an assignment is its newest row that no other row
supersedes; this index makes that NOT EXISTS probe an index look-up.

Revision ID: 0002_checkin
Revises: 0001
Create Date: 2025-09-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_checkin"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_checkin_supersedes_id",
        "checkin",
        ["supersedes_id"],
        unique=False,
        postgresql_where=sa.text("supersedes_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_checkin_supersedes_id", table_name="checkin")
