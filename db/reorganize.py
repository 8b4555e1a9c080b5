"""Apply a reorganisation of the unit tree (``antt unit reorganize FILE.csv [--dry-run]``).

``reorganize`` checks the whole mapping (``db.reorg_file``) against the stored tree,
then, in the caller's transaction: rows dated today or earlier are applied at once
(new units opened with ``valid_from``, old ones closed with ``valid_to`` and
``replaced_by``, then ``db.succession.settle`` for the units closed on each
day); rows dated later are stored in ``reorganization`` and applied on their date
by ``apply_due`` (the scheduler's daily job, idempotent: a row is applied once,
under a lock). A dry run is the same call rolled back by the
caller, with future rows applied as of their dates so that it shows what they
will do. The caller tells the admins above a unit that ended who lost a role
(``handlers.unit_changes``), in the same transaction.

Bad input is refused whole, one line per problem: unknown units, a successor
closed on that date, a cycle, a date before a unit's ``valid_from``, a unit closed
twice (in the file, or already on another date), a new unit without a parent or
kind, a closing unit that keeps open units below it, a parent closed on the date.
Applying the same mapping twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import audit
from db.importing import IssueLog, Where, lock_imports
from db.models import Reorganization, ReorganizationStatus, Unit
from db.reorg_file import Mapping, MappingRow, ReorganizeError
from db.succession import Changes, Closure, settle
from db.unit_sync import ExistingUnit, Ref, UnitSpec, apply_units, find_cycles, load_units
from handlers.i18n import _, format_date

AUDIT_ACTION = "unit.reorganize"


@dataclass(frozen=True)
class NewUnit:
    code: str
    name: str
    kind: str
    parent: str
    opens: dt.date
    line: int
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Closing:
    code: str
    successor: str | None
    on: dt.date
    line: int


@dataclass
class Changeset:
    """A checked mapping: units to open and to close (those already so left out)."""

    opening: list[NewUnit] = field(default_factory=list)
    closing: list[Closing] = field(default_factory=list)

    def dates(self) -> list[dt.date]:
        return sorted({u.opens for u in self.opening} | {c.on for c in self.closing})


@dataclass
class Report:
    """What a reorganisation did now, and what waits for a later date."""

    changes: Changes
    scheduled: list[tuple[dt.date, int]] = field(default_factory=list)  # date, rows
    already_scheduled: list[dt.date] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return not self.changes.empty or bool(self.scheduled)


# --- checking ---------------------------------------------------------------------------


def _closed_on(u: ExistingUnit) -> dt.date | None:
    value = u.values.get("valid_to")
    return value if isinstance(value, dt.date) else None


def check_mapping(mapping: Mapping, existing: dict[str, ExistingUnit]) -> Changeset:
    """Every problem of the mapping against the stored tree; the plan when there is none."""
    log = IssueLog(mapping.file)
    rows = mapping.rows
    code_of = {u.id: u.code for u in existing.values()}

    def at(row: MappingRow, column: str) -> Where:
        return Where(row.line, column)

    # New units: definitions must agree; a code not stored needs one.
    definitions: dict[str, MappingRow] = {}
    opens: dict[str, dt.date] = {}
    for row in rows:
        if row.new is None:
            continue
        opens[row.new] = min(opens.get(row.new, row.date), row.date)
        if not row.defines:
            continue
        first = definitions.setdefault(row.new, row)
        if first is not row and (first.name, first.kind, first.parent, first.lat, first.lon) != (
            row.name,
            row.kind,
            row.parent,
            row.lat,
            row.lon,
        ):
            log.add(
                at(row, "new_code"),
                _("{code} is described differently at line {line}").format(
                    code=row.new, line=first.line
                ),
            )
    new_units: dict[str, NewUnit] = {}
    for code, when in opens.items():
        d = definitions.get(code)
        stored = existing.get(code)
        if stored is not None:
            if d is not None:
                parent = code_of.get(stored.parent_id) if stored.parent_id else None
                if (d.name, d.kind, d.parent) != (
                    stored.values.get("name"),
                    stored.values.get("kind"),
                    parent,
                ):
                    log.add(
                        at(d, "new_code"),
                        _("{code} already exists with another name, kind or parent").format(
                            code=code
                        ),
                    )
            valid_from = stored.values.get("valid_from")
            if isinstance(valid_from, dt.date) and when < valid_from:
                row = next(r for r in rows if r.new == code and r.date == when)
                log.add(
                    at(row, "effective_date"),
                    _("{code} exists only from {date}").format(
                        code=code, date=format_date(valid_from)
                    ),
                )
            continue
        row = d or next(r for r in rows if r.new == code)
        if d is None:
            log.add(
                at(row, "new_code"),
                _(
                    "unknown unit {code} (to create it, give new_name, new_kind and new_parent)"
                ).format(code=code),
            )
            continue
        missing = [
            column
            for column, value in (
                ("new_name", d.name),
                ("new_kind", d.kind),
                ("new_parent", d.parent),
            )
            if not value
        ]
        if "new_parent" in missing:
            log.add(at(d, "new_parent"), _("the new unit {code} needs a parent").format(code=code))
        for column in missing:
            if column != "new_parent":
                log.add(
                    at(d, column),
                    _("the new unit {code} needs {column}").format(code=code, column=column),
                )
        if not missing:
            assert d.name and d.kind and d.parent
            new_units[code] = NewUnit(code, d.name, d.kind, d.parent, when, d.line, d.lat, d.lon)

    # Closings: each unit once, known, not before it existed, not already closed otherwise.
    closes: dict[str, MappingRow] = {}
    for row in rows:
        if row.old is None:
            continue
        if row.old in closes:
            log.add(
                at(row, "old_code"),
                _("{code} is closed twice (first at line {line})").format(
                    code=row.old, line=closes[row.old].line
                ),
            )
            continue
        closes[row.old] = row
        if row.old == row.new:
            log.add(at(row, "new_code"), _("a unit cannot be replaced by itself"))
    closing: list[Closing] = []
    for code, row in closes.items():
        stored = existing.get(code)
        if stored is None and code not in new_units:
            log.add(at(row, "old_code"), _("unknown unit {code}").format(code=code))
            continue
        valid_from = stored.values.get("valid_from") if stored else new_units[code].opens
        if isinstance(valid_from, dt.date) and row.date < valid_from:
            log.add(
                at(row, "effective_date"),
                _("{code} exists only from {date}; it cannot close on {day}").format(
                    code=code, date=format_date(valid_from), day=format_date(row.date)
                ),
            )
            continue
        if stored is not None and (closed := _closed_on(stored)) is not None:
            successor = code_of.get(stored.replaced_by_id) if stored.replaced_by_id else None
            if closed != row.date or successor != row.new:
                log.add(
                    at(row, "old_code"),
                    _("{code} is already closed (on {date})").format(
                        code=code, date=format_date(closed)
                    ),
                )
            continue  # closed exactly so already: nothing to do
        closing.append(Closing(code, row.new, row.date, row.line))

    def closed_by(code: str) -> dt.date | None:
        """The day ``code`` is (or will be) closed, by the file or already."""
        if code in closes:
            return closes[code].date
        stored = existing.get(code)
        return _closed_on(stored) if stored else None

    # Successors and parents must be open on the date.
    for row in rows:
        if row.old is None or row.new is None or row.old == row.new:
            continue
        if row.new not in existing and row.new not in new_units:
            continue
        closed = closed_by(row.new)
        if closed is not None and closed <= row.date:
            log.add(
                at(row, "new_code"),
                _("the successor {code} is itself closed on {date}").format(
                    code=row.new, date=format_date(row.date)
                ),
            )
    for unit in new_units.values():
        d = definitions[unit.code]
        if unit.parent not in existing and unit.parent not in new_units:
            log.add(at(d, "new_parent"), _("unknown unit {code}").format(code=unit.parent))
            continue
        closed = closed_by(unit.parent)
        if closed is not None and closed <= unit.opens:
            log.add(
                at(d, "new_parent"),
                _("the parent {code} is closed on {date}").format(
                    code=unit.parent, date=format_date(unit.opens)
                ),
            )

    # Cycles of succession (the file's and the stored ones).
    successors: dict[str, str | None] = {
        u.code: code_of.get(u.replaced_by_id) if u.replaced_by_id else None
        for u in existing.values()
    }
    for row in closes.values():
        if row.old != row.new:
            successors[row.old] = row.new  # type: ignore[index]
    for cycle in find_cycles(successors, [r.old for r in closes.values() if r.old]):
        if len(cycle) < 2:
            continue
        log.add(
            at(closes[cycle[0]] if cycle[0] in closes else rows[0], "new_code"),
            _("the mapping has a cycle: {cycle}").format(cycle=" -> ".join([*cycle, cycle[0]])),
        )

    # A unit that closes may not leave open units below it.
    by_path = sorted(existing.values(), key=lambda u: u.path)
    for c in closing:
        stored = existing.get(c.code)
        below = [
            u.code
            for u in by_path
            if stored is not None and u.path.startswith(stored.path) and u.code != c.code
        ]
        below += [u.code for u in new_units.values() if u.parent == c.code]
        left = [b for b in below if (closed_by(b) or dt.date.max) > c.on]
        if left:
            row = closes[c.code]
            shown = ", ".join(left[:5]) + (" …" if len(left) > 5 else "")
            log.add(
                at(row, "old_code"),
                _(
                    "{code} still has open units below it on {date}: {units}"
                    " (merge or close them in the same mapping)"
                ).format(code=c.code, date=format_date(c.on), units=shown),
            )
    log.raise_if_any(ReorganizeError)
    return Changeset(sorted(new_units.values(), key=lambda u: (u.opens, u.line)), closing)


# --- applying ---------------------------------------------------------------------------


def _digest(on: dt.date, rows: list[MappingRow]) -> str:
    body = [{k: v for k, v in r.as_json().items() if k != "line"} for r in rows]
    text = json.dumps([on.isoformat(), body], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def _open_units(
    session: AsyncSession,
    units: list[NewUnit],
    existing: dict[str, ExistingUnit],
    changes: Changes,
) -> None:
    if not units:
        return
    specs = [
        UnitSpec(
            u.code,
            Where(u.line),
            {"name": u.name, "kind": u.kind, "valid_from": u.opens, "lat": u.lat, "lon": u.lon},
            Ref(u.parent, Where(u.line)),
        )
        for u in units
    ]
    await apply_units(session, specs, existing)
    changes.opened.extend((u.code, u.name, u.opens) for u in units)


async def _close_units(
    session: AsyncSession, closing: list[Closing], changes: Changes, now: dt.datetime
) -> None:
    """Close units day by day, then settle what those of each day leave behind."""
    codes = {c.code for c in closing} | {c.successor for c in closing if c.successor}
    units = {
        u.code: u
        for u in (await session.execute(select(Unit).where(Unit.code.in_(codes)))).scalars()
    }
    days = sorted({c.on for c in closing})
    for day in days:
        today = sorted(
            (c for c in closing if c.on == day),
            key=lambda c: (-units[c.code].depth, c.line),
        )
        await session.execute(  # an ORM bulk UPDATE by primary key
            update(Unit),
            [
                {
                    "id": units[c.code].id,
                    "valid_to": c.on,
                    "replaced_by_id": units[c.successor].id if c.successor else None,
                }
                for c in today
            ],
        )
        await session.execute(
            select(Unit)
            .where(Unit.id.in_([units[c.code].id for c in today]))
            .execution_options(populate_existing=True)
        )
        changes.closed.extend((c.code, c.successor, c.on) for c in today)
        closures = [
            Closure(units[c.code], units[c.successor] if c.successor else None, c.on) for c in today
        ]
        await settle(session, closures, changes, now)


async def apply_plan(
    session: AsyncSession, plan: Changeset, existing: dict[str, ExistingUnit], now: dt.datetime
) -> Changes:
    """Open and close the plan's units and settle the closed ones (no commit)."""
    changes = Changes()
    await _open_units(session, plan.opening, existing, changes)
    await _close_units(session, plan.closing, changes, now)
    return changes


def _only(changes: Changeset, keep: Callable[[dt.date], bool]) -> Changeset:
    """The part of ``changes`` whose dates pass ``keep``."""
    return Changeset(
        [u for u in changes.opening if keep(u.opens)], [c for c in changes.closing if keep(c.on)]
    )


async def reorganize(
    session: AsyncSession,
    mapping: Mapping,
    *,
    today: dt.date,
    now: dt.datetime,
    dry_run: bool = False,
) -> Report:
    """Check, then apply what is due and schedule the rest (no commit; see the module doc).

    With ``dry_run`` the future rows are applied too, as of their dates, so the report
    shows everything the mapping will do; the caller must roll back.
    """
    await lock_imports(session)
    existing = await load_units(session)
    plan = check_mapping(mapping, existing)
    report = Report(Changes())
    future = sorted({d for d in plan.dates() if d > today})
    due = plan if dry_run else _only(plan, lambda d: d <= today)
    report.changes = await apply_plan(session, due, existing, now)
    for day in future:
        rows = [r for r in mapping.rows if r.date == day]
        stmt = (
            insert(Reorganization)
            .values(
                digest=_digest(day, rows),
                file=mapping.file,
                effective_on=day,
                rows=[r.as_json() for r in rows],
                status=ReorganizationStatus.PENDING.value,
                problems=[],
            )
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(Reorganization.id)
        )
        if (await session.execute(stmt)).scalar_one_or_none() is None:
            report.already_scheduled.append(day)
        else:
            report.scheduled.append((day, len(rows)))
    if report.changed:
        audit.record(
            session,
            AUDIT_ACTION,
            actor_member_id=None,
            object_kind="file",
            object_id=mapping.file[-64:],
            data={
                **report.changes.counts(),
                "scheduled": [d.isoformat() for d, _n in report.scheduled],
                "dry_run": dry_run,
            },
        )
    return report


async def apply_due(session: AsyncSession, today: dt.date, now: dt.datetime) -> list[Report]:
    """Apply the stored reorganisations due by ``today`` (the daily job; no commit).

    Each is taken under a row lock and marked applied (or failed, with its problems) in
    the same transaction, so two processes running the job apply it once.
    """
    stmt = (
        select(Reorganization)
        .where(
            Reorganization.status == ReorganizationStatus.PENDING.value,
            Reorganization.effective_on <= today,
        )
        .order_by(Reorganization.effective_on, Reorganization.id)
        .with_for_update(skip_locked=True)
    )
    pending = (await session.execute(stmt)).scalars().all()
    if not pending:
        return []
    await lock_imports(session)
    reports: list[Report] = []
    for stored in pending:
        mapping = Mapping(stored.file, [MappingRow.from_json(r) for r in stored.rows])
        existing = await load_units(session)
        try:
            plan = check_mapping(mapping, existing)
        except ReorganizeError as exc:
            stored.status = ReorganizationStatus.FAILED.value
            stored.problems = [str(issue) for issue in exc.issues]
            audit.record(
                session,
                AUDIT_ACTION + ".failed",
                actor_member_id=None,
                object_kind="reorganization",
                object_id=stored.id,
                data={"problems": stored.problems},
            )
            continue
        report = Report(await apply_plan(session, plan, existing, now))
        stored.status = ReorganizationStatus.APPLIED.value
        stored.applied_at = now
        audit.record(
            session,
            AUDIT_ACTION,
            actor_member_id=None,
            object_kind="reorganization",
            object_id=stored.id,
            data={**report.changes.counts(), "effective_on": stored.effective_on.isoformat()},
        )
        reports.append(report)
    return reports
