"""outbox.leased_by: which sender holds a claimed row; job_day: the last day a daily job ran

The outbox has one sender per channel at a time (a PostgreSQL advisory lock,
scheduler/leader.py). A sender that takes over after the previous one died
gives the dead sender's rows back at once (those with ``leased_by`` set)
instead of waiting for their lease to run out.

``job_day`` keeps, per daily job, the last local day it ran, so a process that
starts after days down runs the days it missed (each once, marked late).

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
    op.create_table(
        "job_day",
        sa.Column("name", sa.String(length=48), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_day")),
    )


def downgrade() -> None:
    op.drop_table("job_day")
    op.drop_column("outbox", "leased_by")
