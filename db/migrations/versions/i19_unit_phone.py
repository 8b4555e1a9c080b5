"""unit.phone: the unit police's phone, told to people who cannot use the bot

Zalo passes on no content from the accounts it protects; such a person is told
the emergency numbers and, when the unit has one, its police station's phone.

Revision ID: i19_unit_phone
Revises: 0007_shown_choices
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i19_unit_phone"
down_revision: str | None = "i12_outbox_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("unit", sa.Column("phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("unit", "phone")
