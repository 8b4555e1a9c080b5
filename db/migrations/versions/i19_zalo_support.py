"""Zalo as live Zalo sends it: unit.phone, and an index of files still to download

``unit.phone``: the unit police's phone. Zalo passes on no content from the
accounts it protects; such a person is told the emergency numbers and, when the
unit has one, its police station's phone.

``ix_attachment_waiting``: Zalo's media URLs expire, so every file sent on Zalo
is downloaded; the fetcher looks for files not yet kept after each update.

Revision ID: i19_zalo_support
Revises: 0007_shown_choices
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i19_zalo_support"
down_revision: str | None = "i12_outbox_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("unit", sa.Column("phone", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_attachment_waiting",
        "attachment",
        ["channel", "id"],
        unique=False,
        postgresql_where=sa.text("stored_path IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_attachment_waiting",
        table_name="attachment",
        postgresql_where=sa.text("stored_path IS NULL"),
    )
    op.drop_column("unit", "phone")
