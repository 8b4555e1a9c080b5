"""subscription, broadcast delivery columns, outbox 'cancelled' and personal-first claim order

- ``subscription``: a citizen's chat (identity) receives the announcements of one
  commune; only what delivery needs (identity, unit, the day it started).
- ``broadcast``: the unit it is sent from, content (text, file, link), the rendered
  messages per language, when to send, urgency, approval, the fan-out cursor, and
  the author's status message.
- ``outbox``: status ``cancelled``; the claim index puts personal rows (no
  ``broadcast_id``) before announcements.

Revision ID: i14_broadcast
Revises: 0007_shown_choices
Create Date: 2026-11-30 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "i14_broadcast"
down_revision: str | None = "i13_anonymity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('pending', 'sent', 'failed', 'blocked')"
NEW_STATUSES = "status IN ('pending', 'sent', 'failed', 'blocked', 'cancelled')"


def upgrade() -> None:
    op.create_table(
        "subscription",
        sa.Column("identity_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identity.id"],
            name="fk_subscription_identity_id_identity",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name="fk_subscription_unit_id_unit"),
        sa.PrimaryKeyConstraint("identity_id", "unit_id", name="pk_subscription"),
    )
    op.create_index("ix_subscription_unit_id", "subscription", ["unit_id"])

    jsonb = postgresql.JSONB(astext_type=sa.Text())
    op.add_column("broadcast", sa.Column("unit_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key("fk_broadcast_unit_id_unit", "broadcast", "unit", ["unit_id"], ["id"])
    op.add_column(
        "broadcast",
        sa.Column("content", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column(
        "broadcast",
        sa.Column("messages", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column("broadcast", sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "broadcast",
        sa.Column("urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("broadcast", sa.Column("recipients", sa.Integer(), nullable=True))
    op.add_column("broadcast", sa.Column("approved_by", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        "fk_broadcast_approved_by_member", "broadcast", "member", ["approved_by"], ["id"]
    )
    op.add_column(
        "broadcast",
        sa.Column("fanout_cursor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("broadcast", sa.Column("status_identity_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        "fk_broadcast_status_identity_id_identity",
        "broadcast",
        "identity",
        ["status_identity_id"],
        ["id"],
    )
    op.add_column("broadcast", sa.Column("status_message_id", sa.String(64), nullable=True))
    op.add_column(
        "broadcast", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_broadcast_active",
        "broadcast",
        ["id"],
        postgresql_where=sa.text("status IN ('scheduled', 'fanout', 'sending')"),
    )

    op.drop_constraint(op.f("ck_outbox_status_valid"), "outbox", type_="check")
    op.create_check_constraint(op.f("ck_outbox_status_valid"), "outbox", NEW_STATUSES)
    op.drop_index("ix_outbox_claim", table_name="outbox")
    op.execute(
        "CREATE INDEX ix_outbox_claim ON outbox "
        "((broadcast_id IS NOT NULL), urgent DESC, not_before, id) WHERE status = 'pending'"
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_claim", table_name="outbox")
    op.execute(
        "CREATE INDEX ix_outbox_claim ON outbox (urgent DESC, not_before, id) "
        "WHERE status = 'pending'"
    )
    op.execute("UPDATE outbox SET status = 'failed' WHERE status = 'cancelled'")
    op.drop_constraint(op.f("ck_outbox_status_valid"), "outbox", type_="check")
    op.create_check_constraint(op.f("ck_outbox_status_valid"), "outbox", OLD_STATUSES)
    op.drop_index("ix_broadcast_active", table_name="broadcast")
    for fk in (
        "fk_broadcast_status_identity_id_identity",
        "fk_broadcast_approved_by_member",
        "fk_broadcast_unit_id_unit",
    ):
        op.drop_constraint(fk, "broadcast", type_="foreignkey")
    for column in (
        "finished_at",
        "status_message_id",
        "status_identity_id",
        "fanout_cursor",
        "approved_by",
        "recipients",
        "urgent",
        "send_at",
        "messages",
        "content",
        "unit_id",
    ):
        op.drop_column("broadcast", column)
    op.drop_index("ix_subscription_unit_id", table_name="subscription")
    op.drop_table("subscription")
