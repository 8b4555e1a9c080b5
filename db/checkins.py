"""Progress on the plan: assignments owed by units, their check-ins, and roll-ups.

Check-ins are append-only (a trigger refuses UPDATE and DELETE). A correction is
a new row whose ``supersedes_id`` points at the row it replaces; the *latest*
check-in of an assignment is its newest row that no other row supersedes.

Queries read one assignment together with its latest check-in through a
``LEFT JOIN LATERAL (... ORDER BY created_at DESC, id DESC LIMIT 1)``, backed by
``ix_checkin_assignment_created_id`` and the partial ``ix_checkin_supersedes_id``.

What counts as *done*, per task kind (see ``AssignmentProgress.is_done``):

| kind      | done when the latest check-in ...                                  |
| --------- | ------------------------------------------------------------------ |
| milestone | has status ``done``                                                |
| count     | has a value >= target (any value > 0 when there is no target)      |
| percent   | has a share (value / eligible, or the value itself) >= target      |
| report    | has status ``submitted``                                           |
| recurring | is ``done`` for the current period (``period_key(cadence, today)``); |
|           | with no cadence (none in the text), is ``done`` at all             |

A percent task with a ``recognition`` kind is measured from the register of
recognised units instead (``db.register``): ``achieved`` of the ``base`` commune-level
units that did not hold that recognition on 1 January of the plan year.

Retired assignments (no longer in the plan file) are left out of every query unless
``include_retired`` is asked (exports); their check-ins stay.

Repositories never commit; the caller's unit of work does.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.bulk import collector_paused
from db.models import (
    COMMUNE_LEVEL,
    Assignment,
    Attachment,
    Checkin,
    Member,
    Task,
    TaskKind,
    Unit,
)
from db.plan_years import in_year
from db.register import register_share
from db.units import in_subtree

# Owner kind of an attachment that belongs to a check-in.
ATTACHMENT_OWNER = "checkin"
# How long a person may correct their last check-in.
CORRECTION_WINDOW = dt.timedelta(hours=24)


class CheckinStatus(enum.StrEnum):
    """What ``checkin.status`` holds."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    SUBMITTED = "submitted"


class Progress(enum.StrEnum):
    """Where an assignment stands today (derived, never stored)."""

    DONE = "done"
    OVERDUE = "overdue"
    BLOCKED = "blocked"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"


# --- periods of recurring tasks ------------------------------------------


@functools.lru_cache(maxsize=256)  # asked for each recurring row of a digest, on one day
def period_key(cadence: str | None, day: dt.date) -> str:
    """The reporting period of a local (Asia/Ho_Chi_Minh) day; monthly unless said otherwise.

    weekly "2025-W36" (ISO week), monthly "2025-09", quarterly "2025-Q3",
    half-yearly "2025-H2", yearly "2025".
    """
    kind = (cadence or "monthly").strip().lower().replace("_", "-")
    if kind == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "quarterly":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if kind in {"half-yearly", "semiannual", "semi-annual", "biannual"}:
        return f"{day.year}-H{1 if day.month <= 6 else 2}"
    if kind in {"yearly", "annual", "annually"}:
        return f"{day.year}"
    return f"{day.year}-{day.month:02d}"


# --- what a query returns ---------------------------------------------------

_Row = TypeVar("_Row")
_Value = TypeVar("_Value")


def _per_day(method: Callable[[_Row, dt.date], _Value]) -> Callable[[_Row, dt.date], _Value]:
    """``method(self, today)`` remembered for the last day asked: a digest's text and
    chart ask each of a province's ~7,800 rows the same questions several times."""
    key = f"_{method.__name__}_on"

    @functools.wraps(method)
    def remembered(self: _Row, today: dt.date) -> _Value:
        known = self.__dict__.get(key)
        if known is not None and known[0] == today:
            return known[1]  # type: ignore[no-any-return]
        value = method(self, today)
        self.__dict__[key] = (today, value)
        return value

    return remembered


@dataclass(frozen=True)
class Latest:
    """The latest (non-superseded) check-in of an assignment."""

    checkin_id: int
    member_id: int
    status: str | None
    value: Decimal | None
    eligible: int | None
    period: str | None
    note: str | None
    created_at: dt.datetime

    def share(self) -> Decimal | None:
        """The achieved share in percent (percent tasks): value/eligible, or the value itself."""
        if self.value is None:
            return None
        if self.eligible:
            return self.value * 100 / self.eligible
        return self.value


@dataclass(frozen=True)
class AssignmentProgress:
    """One assignment, its task and unit, and its latest check-in (if any)."""

    assignment_id: int
    target: Decimal | None
    deadline: dt.date
    note: str | None
    task_id: int
    task_code: str
    kind: str
    title_vi: str
    title_en: str
    cadence: str | None
    is_reporting: bool
    task_sort: int
    unit_id: int
    unit_code: str
    unit_name: str
    unit_kind: str
    unit_path: str
    latest: Latest | None
    closed_on: dt.date | None = None  # the day its unit closed (then history, no longer owed)
    # the plan file marks the values as a reading of the text ("(dự kiến)")
    inferred: bool = False
    retired: bool = False
    # register-measured percent tasks: the recognition kind, the commune-level units
    # below, those remaining at the start of the year (base) and those recognised since
    recognition: str | None = None
    communes: int | None = None
    base: int | None = None
    achieved: int | None = None

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" and self.title_en else self.title_vi

    def as_of(self, today: dt.date) -> dt.date:
        """The day its state is judged on: today, or the last day before it closed."""
        if self.closed_on is not None and self.closed_on <= today:
            return self.closed_on - dt.timedelta(days=1)
        return today

    @property
    def from_register(self) -> bool:
        """Measured from the register: a percent task with a recognition kind, over a unit
        whose communes are known (without them the check-ins say)."""
        return self.base is not None and self.kind == TaskKind.PERCENT

    def register_share(self) -> Decimal:
        """The register's share in percent (100 when no unit remained to recognise)."""
        if not self.base:
            return Decimal(100)
        return Decimal(self.achieved or 0) * 100 / self.base

    def current_period(self, today: dt.date) -> str | None:
        """The period of a recurring duty; None when the text gives it no cadence."""
        return period_key(self.cadence, today) if self.cadence else None

    @_per_day
    def is_done(self, today: dt.date) -> bool:
        if self.from_register:
            goal = self.target if self.target is not None else Decimal(100)
            return self.register_share() >= goal
        latest = self.latest
        if latest is None:
            return False
        kind = self.kind
        if kind == TaskKind.MILESTONE:
            return latest.status == CheckinStatus.DONE
        if kind == TaskKind.REPORT:
            return latest.status == CheckinStatus.SUBMITTED
        if kind == TaskKind.RECURRING:
            period = self.current_period(today)
            return latest.status == CheckinStatus.DONE and (
                period is None or latest.period == period
            )
        if kind == TaskKind.COUNT:
            if latest.value is None:
                return False
            return latest.value >= self.target if self.target is not None else latest.value > 0
        if kind == TaskKind.PERCENT:
            share = latest.share()
            if share is None:
                return False
            return share >= self.target if self.target is not None else share >= 100
        return False

    @_per_day
    def fraction(self, today: dt.date) -> float:
        """How much of the target is reached, 0..1 (milestones and reports: 0 or 1)."""
        if self.is_done(today):
            return 1.0
        if self.from_register:
            goal = self.target if self.target else Decimal(100)
            return min(float(self.register_share() / goal), 1.0)
        latest = self.latest
        if latest is None or self.kind not in (TaskKind.COUNT, TaskKind.PERCENT):
            return 0.0
        reached = latest.share() if self.kind == TaskKind.PERCENT else latest.value
        # A target of 0 or none is the default goal, so ``goal`` is never 0.
        goal = self.target if self.target else Decimal(100 if self.kind == TaskKind.PERCENT else 1)
        if reached is None:
            return 0.0
        return min(float(reached / goal), 1.0)

    @_per_day
    def progress(self, today: dt.date) -> Progress:
        if self.is_done(today):
            return Progress.DONE
        if self.deadline < today:
            return Progress.OVERDUE
        if self.from_register:
            return Progress.IN_PROGRESS if self.achieved else Progress.NOT_STARTED
        latest = self.latest
        if latest is None:
            return Progress.NOT_STARTED
        if latest.status == CheckinStatus.BLOCKED:
            return Progress.BLOCKED
        period = self.current_period(today) if self.kind == TaskKind.RECURRING else None
        if period is not None and latest.period != period:
            return Progress.NOT_STARTED  # nothing for this period yet
        if latest.status == CheckinStatus.NOT_STARTED:
            return Progress.NOT_STARTED
        return Progress.IN_PROGRESS

    def laggard_key(self, today: dt.date) -> tuple[Any, ...]:
        """Sort key: overdue first, then blocked, then the lowest share, the nearest deadline."""
        state = self.progress(today)
        return (
            state != Progress.OVERDUE,
            state != Progress.BLOCKED,
            self.fraction(today),
            self.deadline,
            self.task_sort,
            self.unit_path,
        )


@dataclass(frozen=True)
class Scope:
    """Whose assignments: those of exactly ``unit_ids``, and all under ``subtree_paths``."""

    unit_ids: tuple[int, ...] = ()
    subtree_paths: tuple[str, ...] = ()
    year: int | None = None  # only the plan of that year (``db.plan_years``)

    @property
    def empty(self) -> bool:
        return not self.unit_ids and not self.subtree_paths

    def clause(self):  # type: ignore[no-untyped-def]
        parts = []
        if self.unit_ids:
            parts.append(Assignment.unit_id.in_(self.unit_ids))
        parts.extend(in_subtree(path) for path in self.subtree_paths)
        # Closed assignments (their unit closed) are history, no longer owed.
        owed = Assignment.closed_on.is_(None)
        if not parts:
            return Assignment.id.is_(None)
        if self.year is not None:
            return and_(owed, in_year(self.year), or_(*parts))
        return and_(owed, or_(*parts))


@functools.cache
def _progress_select(*, include_retired: bool = False) -> Select[*tuple[Any, ...]]:
    """Assignments joined to task, unit and their latest non-superseded check-in.

    Retired assignments are left out unless ``include_retired``. Built once (a few
    milliseconds each time otherwise); callers add to it, which makes a new statement.
    """
    newer = aliased(Checkin)
    latest = (
        select(
            Checkin.id.label("checkin_id"),
            Checkin.member_id,
            Checkin.status,
            Checkin.value,
            Checkin.eligible,
            Checkin.period,
            Checkin.note,
            Checkin.created_at,
        )
        .where(
            Checkin.assignment_id == Assignment.id,
            ~exists().where(newer.supersedes_id == Checkin.id),
        )
        .order_by(Checkin.created_at.desc(), Checkin.id.desc())
        .limit(1)
        .lateral("latest")
    )
    share = register_share().lateral("register")
    stmt = (
        select(
            Assignment.id,
            Assignment.target,
            Assignment.deadline,
            Assignment.note,
            Task.id,
            Task.code,
            Task.kind,
            Task.title_vi,
            Task.title_en,
            Task.cadence,
            Task.is_reporting,
            Task.sort,
            Unit.id,
            Unit.code,
            Unit.name,
            Unit.kind,
            Unit.path,
            Assignment.closed_on,
            Assignment.inferred,
            Assignment.retired_at.is_not(None),
            Task.recognition,
            share.c.communes,
            share.c.base,
            share.c.achieved,
            latest.c.checkin_id,
            latest.c.member_id,
            latest.c.status,
            latest.c.value,
            latest.c.eligible,
            latest.c.period,
            latest.c.note,
            latest.c.created_at,
        )
        .join(Task, Task.id == Assignment.task_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(latest, true())
        .outerjoin(share, true())
    )
    return stmt if include_retired else stmt.where(Assignment.retired_at.is_(None))


_FIELDS = [f.name for f in fields(AssignmentProgress) if f.name != "latest"]
_LATEST_FIELDS = [f.name for f in fields(Latest)]
_N = len(_FIELDS)
_RECOGNITION_AT = _FIELDS.index("recognition")
_COMMUNES_AT = _FIELDS.index("communes")
assert _FIELDS[_COMMUNES_AT : _COMMUNES_AT + 3] == ["communes", "base", "achieved"]
assert _COMMUNES_AT == _N - 3


def _row(row: Sequence[Any]) -> AssignmentProgress:
    """A row of ``_progress_select``: the assignment's columns, then its latest check-in's.

    Positional (the columns are in the dataclasses' field order), and the fields are
    put in each object's ``__dict__`` at once rather than through the frozen classes'
    ``__init__`` (one ``object.__setattr__`` per field): a province's digest reads some
    8,000 of these, and that takes 40% less time.
    """
    latest: Latest | None = None
    if row[_N] is not None:
        latest = object.__new__(Latest)
        latest.__dict__.update(zip(_LATEST_FIELDS, row[_N:], strict=True))
    found = object.__new__(AssignmentProgress)
    values = found.__dict__
    values.update(zip(_FIELDS, row[:_N], strict=True))
    values["latest"] = latest
    if row[_RECOGNITION_AT] is None or not row[_COMMUNES_AT]:
        values["communes"] = values["base"] = values["achieved"] = None
    return found


ORDER = (Assignment.deadline, Task.sort, Unit.path, Assignment.id)


async def owed_page(
    session: AsyncSession, scope: Scope, *, page: int, per_page: int
) -> tuple[list[AssignmentProgress], int]:
    """One page of the assignments in ``scope`` (nearest deadline first) and their total.

    A page past the end is clamped to the last page.
    """
    if scope.empty:
        return [], 0
    total = (
        await session.execute(
            select(func.count())
            .select_from(Assignment)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(scope.clause(), Assignment.retired_at.is_(None))
        )
    ).scalar_one()
    last = max((total - 1) // per_page, 0)
    page = min(max(page, 0), last)
    stmt = (
        _progress_select()
        .where(scope.clause())
        .order_by(*ORDER)
        .limit(per_page)
        .offset(page * per_page)
    )
    rows = (await session.execute(stmt)).all()
    return [_row(r) for r in rows], total


async def assignment_progress(
    session: AsyncSession, assignment_id: int
) -> AssignmentProgress | None:
    stmt = _progress_select().where(Assignment.id == assignment_id)
    row = (await session.execute(stmt)).first()
    return _row(row) if row is not None else None


async def progress_in_subtree(
    session: AsyncSession,
    root: Unit,
    *,
    include_closed: bool = False,
    year: int | None = None,
    include_retired: bool = False,
) -> list[AssignmentProgress]:
    """Every assignment of ``root`` and the units below it with its latest check-in: ONE query.

    The daily digest and /progress both start here. Assignments closed with their unit
    (``closed_on``) are history and left out unless ``include_closed``; ``year`` keeps
    only that year's plan; exports ask for retired ones too (``include_retired``).
    """
    stmt = (
        _progress_select(include_retired=include_retired)
        .where(in_subtree(root.path))
        .order_by(*ORDER)
    )
    if not include_closed:
        stmt = stmt.where(Assignment.closed_on.is_(None))
    if year is not None:
        stmt = stmt.where(in_year(year))
    # Plain rows from the connection, without the ORM's result handling (a province has
    # some 8,000); the flush is what the session's own execute would do first.
    await session.flush()
    connection = await session.connection()
    with collector_paused():
        rows = (await connection.execute(stmt)).all()
        return [_row(r) for r in rows]


# --- roll-ups -------------------------------------------------------------------


@dataclass(frozen=True)
class Rollup:
    """Assignments counted over a unit's subtree (or over one task's units)."""

    key: int
    label: str
    total: int
    done: int
    overdue: int
    blocked: int

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 0.0

    def laggard_key(self) -> tuple[Any, ...]:
        return (-self.overdue, self.share, -self.blocked, self.label)


def _count(key: int, label: str, rows: Iterable[AssignmentProgress], today: dt.date) -> Rollup:
    states = [r.progress(today) for r in rows]
    return Rollup(
        key=key,
        label=label,
        total=len(states),
        done=states.count(Progress.DONE),
        overdue=states.count(Progress.OVERDUE),
        blocked=states.count(Progress.BLOCKED),
    )


def by_child(
    rows: Iterable[AssignmentProgress], root_path: str
) -> dict[int, list[AssignmentProgress]]:
    """The rows under each direct child of the unit at ``root_path``, by the child's id;
    the root's own rows are left out. One pass, shared by roll-ups and shares."""
    grouped: dict[int, list[AssignmentProgress]] = {}
    for row in rows:
        path = row.unit_path
        if not path.startswith(root_path):
            continue
        rest = path[len(root_path) :].strip("/")
        if rest:
            grouped.setdefault(int(rest.split("/", 1)[0]), []).append(row)
    return grouped


def rollup_by_child(
    rows: Sequence[AssignmentProgress],
    root: Unit,
    children: Sequence[Unit],
    today: dt.date,
    *,
    grouped: dict[int, list[AssignmentProgress]] | None = None,
) -> list[Rollup]:
    """Per direct child of ``root``: the assignments of its whole subtree; laggards first.

    Children with no assignment below them are left out; the root's own
    assignments are not counted. ``grouped``: ``by_child(rows, root.path)``, if made.
    """
    if grouped is None:
        grouped = by_child(rows, root.path)
    result = [_count(c.id, c.name, grouped[c.id], today) for c in children if c.id in grouped]
    return sorted(result, key=Rollup.laggard_key)


def rollup_by_task(
    rows: Sequence[AssignmentProgress], today: dt.date, lang: str, *, exclude_unit: int | None
) -> list[Rollup]:
    """Per task: how many of the units that owe it are done; laggards first."""
    grouped: dict[int, list[AssignmentProgress]] = {}
    for row in rows:
        if row.unit_id != exclude_unit:
            grouped.setdefault(row.task_id, []).append(row)
    result = [_count(tid, items[0].title(lang), items, today) for tid, items in grouped.items()]
    return sorted(result, key=Rollup.laggard_key)


async def active_children(session: AsyncSession, unit: Unit, today: dt.date) -> Sequence[Unit]:
    stmt = (
        select(Unit)
        .where(Unit.parent_id == unit.id, or_(Unit.valid_to.is_(None), Unit.valid_to > today))
        .order_by(Unit.name)
    )
    return (await session.execute(stmt)).scalars().all()


async def unit_rollup(session: AsyncSession, root: Unit, today: dt.date) -> list[Rollup]:
    """Per direct child of ``root``, the share of done assignments below it; laggards first."""
    rows = await progress_in_subtree(session, root)
    return rollup_by_child(rows, root, await active_children(session, root, today), today)


# --- the sub-units a percent task is measured over ---------------------------


async def eligible_subunits(session: AsyncSession, unit: Unit, today: dt.date) -> int:
    """Active commune-level units (wards, communes) below ``unit``: the base of a share."""
    stmt = (
        select(func.count())
        .select_from(Unit)
        .where(
            in_subtree(unit.path),
            Unit.id != unit.id,
            Unit.kind.in_([k.value for k in COMMUNE_LEVEL]),
            or_(Unit.valid_to.is_(None), Unit.valid_to > today),
        )
    )
    return int((await session.execute(stmt)).scalar_one())


# --- check-ins --------------------------------------------------------------------


async def append_checkin(
    session: AsyncSession,
    *,
    assignment_id: int,
    member_id: int,
    at: dt.datetime,
    status: str | None,
    value: Decimal | None = None,
    eligible: int | None = None,
    period: str | None = None,
    note: str | None = None,
    supersedes_id: int | None = None,
) -> Checkin:
    """Add a check-in row (never an update); flushed so its id is known."""
    row = Checkin(
        assignment_id=assignment_id,
        member_id=member_id,
        status=status,
        value=value,
        eligible=eligible,
        period=period,
        note=note,
        supersedes_id=supersedes_id,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def add_attachment(
    session: AsyncSession,
    checkin_id: int,
    *,
    channel: str,
    file_id: str,
    kind: str,
    mime: str | None,
    size: int | None,
    sha256: str | None = None,
    stored_path: str | None = None,
    at: dt.datetime,
) -> Attachment:
    """Keep a file of a check-in by the channel's file id.

    Hook for ``ANTT_STORE_MEDIA=1``: the channel downloads the file later and
    fills ``stored_path`` and ``sha256`` on rows with ``owner_kind='checkin'`` and
    ``stored_path IS NULL`` (attachments are not append-only).
    """
    row = Attachment(
        owner_kind=ATTACHMENT_OWNER,
        owner_id=checkin_id,
        channel=channel,
        file_id=file_id,
        kind=kind,
        mime=mime,
        size=size,
        sha256=sha256,
        stored_path=stored_path,
        created_at=at,
    )
    session.add(row)
    return row


async def correctable(
    session: AsyncSession, assignment_id: int, member_id: int, now: dt.datetime
) -> Checkin | None:
    """The member's last check-in on the assignment, if still open to correction.

    Open means: made less than 24 hours ago and not already superseded.
    """
    newer = aliased(Checkin)
    stmt = (
        select(Checkin)
        .where(Checkin.assignment_id == assignment_id, Checkin.member_id == member_id)
        .order_by(Checkin.created_at.desc(), Checkin.id.desc())
        .limit(1)
    )
    last = (await session.execute(stmt)).scalar_one_or_none()
    if last is None or now - last.created_at >= CORRECTION_WINDOW:
        return None
    superseded = await session.scalar(select(exists().where(newer.supersedes_id == last.id)))
    return None if superseded else last


@dataclass(frozen=True)
class HistoryEntry:
    checkin_id: int
    member_name: str
    status: str | None
    value: Decimal | None
    eligible: int | None
    period: str | None
    note: str | None
    created_at: dt.datetime
    supersedes_id: int | None
    superseded: bool
    attachments: int


async def history(session: AsyncSession, assignment_id: int, limit: int = 5) -> list[HistoryEntry]:
    """The newest check-ins of an assignment, corrections and superseded rows included."""
    newer = aliased(Checkin)
    n_files = (
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.owner_kind == ATTACHMENT_OWNER, Attachment.owner_id == Checkin.id)
        .scalar_subquery()
    )
    stmt = (
        select(
            Checkin.id,
            Member.full_name,
            Checkin.status,
            Checkin.value,
            Checkin.eligible,
            Checkin.period,
            Checkin.note,
            Checkin.created_at,
            Checkin.supersedes_id,
            exists().where(newer.supersedes_id == Checkin.id),
            n_files,
        )
        .join(Member, Member.id == Checkin.member_id)
        .where(Checkin.assignment_id == assignment_id)
        .order_by(Checkin.created_at.desc(), Checkin.id.desc())
        .limit(limit)
    )
    return [HistoryEntry(*row) for row in (await session.execute(stmt)).all()]
