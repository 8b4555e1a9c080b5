"""SQLAlchemy 2 models for the whole domain: units, people, the plan, tips, delivery, audit.

Times are ``timestamptz`` in UTC; calendar dates (deadlines) are plain ``date``.
The unit tree is a materialised path of ids (``/1/7/42/``) with a
``text_pattern_ops`` index, so "everything under this district" is one
``path LIKE '/1/7/%'`` index range scan.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


def _enum_check(column: str, values: type[enum.Enum]) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UnitKind(enum.StrEnum):
    PROVINCE = "province"
    CITY = "city"
    TOWN = "town"
    DISTRICT = "district"
    COMMUNE = "commune"
    WARD = "ward"
    RESIDENTIAL_AREA = "residential_area"
    AGENCY = "agency"
    ENTERPRISE = "enterprise"
    SCHOOL = "school"
    PARISH = "parish"
    INDUSTRIAL_PARK = "industrial_park"


DISTRICT_LEVEL = {UnitKind.CITY, UnitKind.TOWN, UnitKind.DISTRICT}
COMMUNE_LEVEL = {UnitKind.COMMUNE, UnitKind.WARD}


class Role(enum.StrEnum):
    OFFICER = "officer"
    FORCE = "force"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class TaskKind(enum.StrEnum):
    MILESTONE = "milestone"
    COUNT = "count"
    PERCENT = "percent"
    REPORT = "report"
    RECURRING = "recurring"


class TipStatus(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"  # an announcement cancelled before this row went out


class BroadcastStatus(enum.StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "approval"  # waits for a second admin
    SCHEDULED = "scheduled"  # approved (or needing no approval); fanned out at send_at
    FANOUT = "fanout"  # outbox rows being written in batches
    SENDING = "sending"  # every row queued; the sender drains them
    DONE = "done"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


ACTIVE_BROADCAST = (BroadcastStatus.SCHEDULED, BroadcastStatus.FANOUT, BroadcastStatus.SENDING)


class Unit(Base):
    __tablename__ = "unit"
    __table_args__ = (
        _enum_check("kind", UnitKind),
        Index("ix_unit_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_unit_parent_id", "parent_id"),
        Index(
            "ix_unit_name_search", "name_search", postgresql_ops={"name_search": "text_pattern_ops"}
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # lower-case, accent-free name ("nghi huong" finds "Nghi Hương")
    name_search: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    path: Mapped[str] = mapped_column(Text, default="")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    note: Mapped[str | None] = mapped_column(Text)
    # The police station's phone, told to people who cannot use the bot (handlers.contact).
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    parent: Mapped[Unit | None] = relationship(remote_side=[id], foreign_keys=[parent_id])


class Member(Base):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Identity(Base):
    """One account of a person on one channel (Telegram, Zalo, emulator)."""

    __tablename__ = "identity"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),
        Index("ix_identity_member_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str | None] = mapped_column(String(8))
    blocked_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[dt.datetime | None]


class RoleGrant(Base):
    __tablename__ = "role_grant"
    __table_args__ = (
        _enum_check("role", Role),
        Index(
            "uq_role_grant_active",
            "member_id",
            "unit_id",
            "role",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index("ix_role_grant_unit_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("member.id"))


class Invite(Base):
    __tablename__ = "invite"
    __table_args__ = (
        _enum_check("role", Role),
        CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses_within_limit"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # True for invites made before keyed digests: code_hash is a plain SHA-256.
    legacy_hash: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    role: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[dt.datetime]
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[dt.datetime | None]


class Plan(Base):
    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text, default="")
    year: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    coordinator_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Task(Base):
    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("plan_id", "code", name="uq_task_plan_code"),
        _enum_check("kind", TaskKind),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text, default="")
    clause: Mapped[str | None] = mapped_column(String(120))
    cadence: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    # True for the plan's reporting calendar (section IV), not a target of its own
    is_reporting: Mapped[bool] = mapped_column(Boolean, default=False)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    # set when a re-import no longer finds the task in the plan file (history kept)
    retired_at: Mapped[dt.datetime | None]
    # percent tasks measured over the communes not yet holding this recognition kind
    recognition: Mapped[str | None] = mapped_column(String(32))
    # the figures a report collects: [{"code", "vi", "en", "source"}] (plan file)
    figures: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)


class Assignment(Base):
    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("task_id", "unit_id", name="uq_assignment_task_unit"),
        Index("ix_assignment_unit_id", "unit_id"),
        Index("ix_assignment_deadline", "deadline"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    target: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    deadline: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    inferred: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the unit closed (``db.reorganize``): no longer owed from that day; the
    # check-ins stay here. ``moved_to_id``: the successor's assignment that took it over.
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    moved_to_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id"))
    # set when a re-import no longer finds the assignment in the plan file (history kept)
    retired_at: Mapped[dt.datetime | None]


class Checkin(Base):
    """Append-only progress history; a correction is a new row that supersedes."""

    __tablename__ = "checkin"
    __table_args__ = (
        # Read backwards, it gives an assignment's latest check-in first (created_at DESC,
        # id DESC), so a LIMIT 1 stops at the first row that was not corrected.
        Index("ix_checkin_assignment_created_id", "assignment_id", "created_at", "id"),
        Index("ix_checkin_created_at", "created_at"),
        Index("ix_checkin_member_id", "member_id"),
        CheckConstraint("value IS NULL OR value >= 0", name="value_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    status: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    eligible: Mapped[int | None] = mapped_column(Integer)
    period: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("checkin.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class TipCategory(Base):
    __tablename__ = "tip_category"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    extension: Mapped[bool] = mapped_column(Boolean, default=False)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Tip(Base):
    __tablename__ = "tip"
    __table_args__ = (
        _enum_check("status", TipStatus),
        Index("ix_tip_unit_status_created", "unit_id", "status", "created_at"),
        Index("ix_tip_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(ForeignKey("tip_category.code"))
    description: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    place_text: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=TipStatus.NEW.value)
    outcome: Mapped[str | None] = mapped_column(String(16))
    assigned_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tip.id"))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    acknowledged_at: Mapped[dt.datetime | None]
    escalated_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]


class TipEvent(Base):
    __tablename__ = "tip_event"
    __table_args__ = (Index("ix_tip_event_tip_id", "tip_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"))
    actor_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    kind: Mapped[str] = mapped_column(String(32))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class TipReporter(Base):
    """The sealed link from a tip to its reporter's chat (encrypted; purged after closing)."""

    __tablename__ = "tip_reporter"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    purge_after: Mapped[dt.datetime | None]


class Attachment(Base):
    __tablename__ = "attachment"
    __table_args__ = (
        Index("ix_attachment_owner", "owner_kind", "owner_id"),
        # Files still to download: the fetcher looks after every Zalo update.
        Index(
            "ix_attachment_waiting",
            "channel",
            "id",
            postgresql_where=text("stored_path IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    stored_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # Downloads (ANTT_STORE_MEDIA): failures so far, when to try again, and why not kept.
    download_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    download_after: Mapped[dt.datetime | None]
    download_error: Mapped[str | None] = mapped_column(Text)


class Conversation(Base):
    """Where one identity stands in a flow; locked for the length of one update."""

    __tablename__ = "conversation"

    identity_id: Mapped[int] = mapped_column(ForeignKey("identity.id"), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(48))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The day of the latest update (a precise time would line up with a tip's), and
    # the precise times of the latest update and the one before it, sealed under the
    # key (db.sealed.seal_time), for the idle check.
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    touched: Mapped[bytes | None] = mapped_column(LargeBinary)
    touched_before: Mapped[bytes | None] = mapped_column(LargeBinary)


class ShownChoices(Base):
    """The choices a chat without buttons was last shown, numbered from 1 ([[id, label]])."""

    __tablename__ = "shown_choices"
    __table_args__ = (PrimaryKeyConstraint("channel", "chat_id"),)

    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    choices: Mapped[list[list[str]]] = mapped_column(JSONB)
    shown_at: Mapped[dt.datetime]


class ProcessedUpdate(Base):
    """Update ids already handled (a redelivery is skipped); pruned after a few days."""

    __tablename__ = "processed_update"
    __table_args__ = (
        PrimaryKeyConstraint("channel", "update_id"),
        Index("ix_processed_update_at", "at"),
    )

    channel: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class RateCount(Base):
    """Hits counted for a limit in a five-minute bucket, under a keyed digest that names
    nobody without the key (see ``db.rate_limits``)."""

    __tablename__ = "rate_count"
    __table_args__ = (Index("ix_rate_count_kind_window_start", "kind", "window_start"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[dt.datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)


class Broadcast(Base):
    """An announcement: who wrote it, to whom under which unit, what, when, and its state.

    ``messages`` holds what recipients get, rendered once per language
    (``{"vi": [message json, ...], "en": [...]}``); outbox rows of the
    announcement carry only ``{"broadcast": id}`` and the sender looks it up.
    """

    __tablename__ = "broadcast"
    __table_args__ = (
        Index(
            "ix_broadcast_active",
            "id",
            postgresql_where=text("status IN ('scheduled', 'fanout', 'sending')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    author_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str] = mapped_column(Text)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    messages: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    send_at: Mapped[dt.datetime | None]
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    recipients: Mapped[int | None] = mapped_column(Integer)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    # Identity ids below this one have their outbox rows written (fan-out resumes here).
    fanout_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    # The author's progress message, edited in place while the announcement goes out.
    status_identity_id: Mapped[int | None] = mapped_column(ForeignKey("identity.id"))
    status_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[dt.datetime | None]


class Subscription(Base):
    """A chat that receives the announcements of one commune (no registration needed).

    Only what delivery needs: the identity (its channel and chat), the unit, and
    the day it began (``created_at`` is cut to midnight UTC so it cannot be joined
    by time with anything else the person did).
    """

    __tablename__ = "subscription"
    __table_args__ = (Index("ix_subscription_unit_id", "unit_id"),)

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identity.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    created_at: Mapped[dt.datetime]


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        _enum_check("status", OutboxStatus),
        Index(
            "ix_outbox_pending",
            "not_before",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_outbox_broadcast_id", "broadcast_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identity.id"))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column()
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    not_before: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[dt.datetime | None]
    # The sender holding the row's claim (migration i12_outbox_lease), cleared when the
    # outcome is recorded: a sender taking over gives a dead one's rows back at once.
    leased_by: Mapped[str | None] = mapped_column(String(64))


class JobDay(Base):
    """The last local day a daily job ran (migration i12_outbox_lease): missed days catch up."""

    __tablename__ = "job_day"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)


class Audit(Base):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    actor_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    action: Mapped[str] = mapped_column(String(48))
    object_kind: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


# --- added by migration 0002_checkin (check-ins) ----------------------------------
# The latest check-in ignores superseded rows: a NOT EXISTS probe on supersedes_id.
Index(
    "ix_checkin_supersedes_id",
    Checkin.supersedes_id,
    postgresql_where=text("supersedes_id IS NOT NULL"),
)


# --- Reminders and the outbox sender (migration 0003_reminders) ---------------


class ReminderSnooze(Base):
    """A "remind me tomorrow": no reminder of the assignment to the identity before ``until``."""

    __tablename__ = "reminder_snooze"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identity.id", ondelete="CASCADE"), primary_key=True
    )
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignment.id", ondelete="CASCADE"), primary_key=True
    )
    until: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


# Personal rows (no broadcast) first, then urgent first: announcements yield (i14_broadcast).
Index(
    "ix_outbox_claim",
    Outbox.broadcast_id.isnot(None),
    Outbox.urgent.desc(),
    Outbox.not_before,
    Outbox.id,
    postgresql_where=text("status = 'pending'"),
)


# --- Daily digest (migration 0004_digest) --------------------------------------------
# Tips nobody has acknowledged yet: the digest's "not acknowledged for over 24 hours"
# and the escalation job read only these, oldest first.
Index("ix_tip_new_created", Tip.created_at, postgresql_where=text("status = 'new'"))


# --- Reorganisations of the unit tree (migration i18_reorganize) ----------------------
# A successor's predecessors (db.history): few rows, only those that merged.
Index(
    "ix_unit_replaced_by_id",
    Unit.replaced_by_id,
    postgresql_where=text("replaced_by_id IS NOT NULL"),
)
Index(
    "ix_assignment_moved_to_id",
    Assignment.moved_to_id,
    postgresql_where=text("moved_to_id IS NOT NULL"),
)


class ReorganizationStatus(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"


class Reorganization(Base):
    """A mapping (or its rows of one future date) waiting for, or done on, its date."""

    __tablename__ = "reorganization"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'applied', 'failed')", name="status_valid"),
        Index(
            "ix_reorganization_pending",
            "effective_on",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # sha256 of the effective date and the rows: the same mapping is stored once
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    file: Mapped[str] = mapped_column(Text)
    effective_on: Mapped[dt.date] = mapped_column(Date)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default=ReorganizationStatus.PENDING.value)
    problems: Mapped[list[str]] = mapped_column(JSONB, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    applied_at: Mapped[dt.datetime | None]


# --- The plan's own cycle (migration i15_plan_cycle) ---------------------------------


class RecognitionKind(enum.StrEnum):
    """What a unit can be recognised as (the register of recognised units)."""

    MODEL = "model"  # điển hình, kiểu mẫu (level: ministry, province, district)
    DRUG_FREE = "drug_free"  # sạch về ma túy
    SECURITY_SAFE = "security_safe"  # An toàn về an ninh, trật tự
    RURAL_SECURITY = "rural_security"  # tiêu chí ANTT nông thôn mới


class RecognitionLevel(enum.StrEnum):
    MINISTRY = "ministry"
    PROVINCE = "province"
    DISTRICT = "district"


class RecognitionStatus(enum.StrEnum):
    RECOGNISED = "recognised"
    MAINTAINED = "maintained"
    SPREAD = "spread"
    REAPPRAISAL = "reappraisal"
    CLOSED = "closed"
    REVOKED = "revoked"


# Statuses after which a recognition no longer holds.
ENDED_STATUSES = (RecognitionStatus.CLOSED.value, RecognitionStatus.REVOKED.value)


class Recognition(Base):
    """One recognition of a unit by a decision; its status is the latest event's."""

    __tablename__ = "recognition"
    __table_args__ = (
        _enum_check("kind", RecognitionKind),
        UniqueConstraint("unit_id", "kind", "decision_no", name="uq_recognition_decision"),
        Index("ix_recognition_unit_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(Text)
    decision_no: Mapped[str] = mapped_column(String(64))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=RecognitionStatus.RECOGNISED.value)
    status_on: Mapped[dt.date] = mapped_column(Date)
    # when a recognition ended (closed or revoked), for "recognised on day X"
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class RecognitionEvent(Base):
    """The status history of a recognition (append-only)."""

    __tablename__ = "recognition_event"
    __table_args__ = (
        _enum_check("status", RecognitionStatus),
        UniqueConstraint("recognition_id", "status", "on", name="uq_recognition_event"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    recognition_id: Mapped[int] = mapped_column(ForeignKey("recognition.id"))
    status: Mapped[str] = mapped_column(String(16))
    on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="csv")
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tip.id"))
    actor_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ReportFigure(Base):
    """One figure of a report, kept with the check-in that submitted the report."""

    __tablename__ = "report_figure"
    __table_args__ = (PrimaryKeyConstraint("checkin_id", "code"),)

    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkin.id"))
    code: Mapped[str] = mapped_column(String(64))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # what the system proposed (None: asked, nothing known)
    proposed: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))


class EvaluationStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    DECIDED = "decided"


class EvaluationRound(Base):
    """A yearly evaluation and classification round of the movement."""

    __tablename__ = "evaluation_round"
    __table_args__ = (UniqueConstraint("year", name="uq_evaluation_round_year"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    sheet: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the scoring sheet used
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Evaluation(Base):
    """One unit's evaluation in a round: its self-assessment and its superior's decision."""

    __tablename__ = "evaluation"
    __table_args__ = (
        _enum_check("status", EvaluationStatus),
        UniqueConstraint("round_id", "unit_id", name="uq_evaluation_round_unit"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("evaluation_round.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    sheet_kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=EvaluationStatus.DRAFT.value)
    self_total: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    final_total: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    grade: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    submitted_at: Mapped[dt.datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    decided_at: Mapped[dt.datetime | None]


class EvaluationScore(Base):
    """One criterion of an evaluation: proposed, self-assessed and final points."""

    __tablename__ = "evaluation_score"
    __table_args__ = (PrimaryKeyConstraint("evaluation_id", "criterion"),)

    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(64))
    proposed: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    self_points: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    final_points: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    evidence: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
