"""Anonymity that survives a dump: keyed rate counters, coarse times on a person's rows

- ``rate_count`` (keyed five-minute buckets) replaces ``rate_event`` (identity and
  exact time in clear); the old marks are dropped: they only held limits of the
  last hour or two, so at most a limit restarts once.
- ``conversation.touched`` / ``touched_before`` hold the sealed times of a person's
  latest updates (for the idle check); ``previous_at`` goes. Conversations that were
  in a flow simply get no idle check for their next update.
- The times already stored on a person's rows (identity, conversation, shown
  choices) are cut to their UTC day.
- ``attachment.download_*``: media downloads retried with a backoff and a limit,
  and why a file was not kept.
- ``invite.legacy_hash``: invites made before this revision keep their plain
  SHA-256 (a hash cannot be turned into the keyed one without the code); they stay
  usable until they expire, and new invites store the keyed digest.

Revision ID: i13_anonymity
Revises: 0007_shown_choices
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i13_anonymity"
down_revision: str | None = "i19_zalo_support"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = "date_trunc('day', {c} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def upgrade() -> None:
    op.create_table(
        "rate_count",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_count")),
    )
    op.create_index(
        "ix_rate_count_kind_window_start", "rate_count", ["kind", "window_start"], unique=False
    )
    op.drop_index("ix_rate_event_identity_kind_at", table_name="rate_event")
    op.drop_table("rate_event")

    op.add_column("conversation", sa.Column("touched", sa.LargeBinary(), nullable=True))
    op.add_column("conversation", sa.Column("touched_before", sa.LargeBinary(), nullable=True))
    op.drop_column("conversation", "previous_at")
    op.execute(f"UPDATE conversation SET updated_at = {DAY.format(c='updated_at')}")
    op.execute(
        "UPDATE identity SET "
        f"created_at = {DAY.format(c='created_at')}, "
        f"last_seen_at = {DAY.format(c='last_seen_at')}, "
        f"blocked_at = {DAY.format(c='blocked_at')}"
    )
    op.execute(f"UPDATE shown_choices SET shown_at = {DAY.format(c='shown_at')}")

    op.add_column(
        "invite",
        sa.Column("legacy_hash", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.alter_column("invite", "legacy_hash", server_default=sa.false())

    op.add_column(
        "attachment",
        sa.Column("download_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "attachment", sa.Column("download_after", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("attachment", sa.Column("download_error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("attachment", "download_error")
    op.drop_column("attachment", "download_after")
    op.drop_column("attachment", "download_attempts")
    op.drop_column("invite", "legacy_hash")
    op.add_column(
        "conversation",
        sa.Column("previous_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.drop_column("conversation", "touched_before")
    op.drop_column("conversation", "touched")
    op.create_table(
        "rate_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("identity_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["identity.id"], name=op.f("fk_rate_event_identity_id_identity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_event")),
    )
    op.create_index(
        "ix_rate_event_identity_kind_at", "rate_event", ["identity_id", "kind", "at"], unique=False
    )
    op.drop_index("ix_rate_count_kind_window_start", table_name="rate_count")
    op.drop_table("rate_count")
