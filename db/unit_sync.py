"""Bring the unit tree in line with units described by a data file (plan YAML or unit CSV).

Units are matched by code. A file manages only the columns it names (the plan
has no coordinates, the CSV has no notes), so importing one never erases what
the other set. The materialised path (``/1/7/42/``), depth and folded search
name are kept right here: new units get ids drawn up front so their paths are
written with them, and a unit whose parent changes has its whole subtree's paths
rewritten by one prefix UPDATE.

Checking (``check_units``) never writes; writing (``apply_units``) assumes the
check passed and runs inside the caller's transaction after ``lock_imports``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.importing import Counts, IssueLog, Where
from db.models import Unit
from db.units import child_path, fold
from handlers.i18n import _

# Columns a file may manage, besides parent and replaced_by.
UNIT_FIELDS = ("name", "kind", "note", "lat", "lon", "valid_from", "valid_to", "phone")


@dataclass(frozen=True)
class Ref:
    """A unit code used somewhere in a file, with where it was used."""

    code: str
    where: Where


@dataclass
class UnitSpec:
    """One unit as a file describes it."""

    code: str
    where: Where
    fields: dict[str, Any]
    parent: Ref | None
    replaced_by: Ref | None = None
    manages_replaced_by: bool = False


@dataclass
class ExistingUnit:
    """The columns of a stored unit that an import compares and maintains."""

    id: int
    code: str
    parent_id: int | None
    path: str
    depth: int
    replaced_by_id: int | None
    values: dict[str, Any] = field(default_factory=dict)


async def load_units(session: AsyncSession) -> dict[str, ExistingUnit]:
    """Every stored unit by code (the whole tree: a province is thousands of rows, not millions)."""
    columns = [getattr(Unit, name) for name in (*UNIT_FIELDS, "name_search")]
    stmt = select(
        Unit.id, Unit.code, Unit.parent_id, Unit.path, Unit.depth, Unit.replaced_by_id, *columns
    )
    units: dict[str, ExistingUnit] = {}
    for row in (await session.execute(stmt)).all():
        uid, code, parent_id, path, depth, replaced_by_id, *rest = row
        values = dict(zip((*UNIT_FIELDS, "name_search"), rest, strict=True))
        units[code] = ExistingUnit(uid, code, parent_id, path, depth, replaced_by_id, values)
    return units


def unit_field_problems(fields: dict[str, Any], *, has_replaced_by: bool) -> list[tuple[str, str]]:
    """Problems across a unit's fields, as (field, message): coordinates, validity, merger."""
    problems: list[tuple[str, str]] = []
    lat, lon = fields.get("lat"), fields.get("lon")
    if (lat is None) != (lon is None):
        problems.append(("lat" if lat is None else "lon", _("give both lat and lon, or neither")))
    if lat is not None and not -90 <= lat <= 90:
        problems.append(("lat", _("latitude must be between -90 and 90")))
    if lon is not None and not -180 <= lon <= 180:
        problems.append(("lon", _("longitude must be between -180 and 180")))
    valid_from, valid_to = fields.get("valid_from"), fields.get("valid_to")
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        problems.append(("valid_to", _("valid_to is before valid_from")))
    if has_replaced_by and valid_to is None:
        problems.append(("replaced_by", _("replaced_by needs valid_to (the day the unit closed)")))
    return problems


def check_units(
    specs: Sequence[UnitSpec], existing: dict[str, ExistingUnit], log: IssueLog
) -> None:
    """Duplicate codes, unknown parents and replacements, and cycles in the resulting tree."""
    first: dict[str, UnitSpec] = {}
    for spec in specs:
        if spec.code in first:
            log.add(
                spec.where,
                _("duplicate unit code {code} (first at line {line})").format(
                    code=spec.code, line=first[spec.code].where.line
                ),
            )
        else:
            first[spec.code] = spec
    known = set(first) | set(existing)
    for spec in first.values():
        if spec.parent is not None and spec.parent.code not in known:
            log.add(spec.parent.where, _("unknown unit {code}").format(code=spec.parent.code))
        if spec.replaced_by is not None:
            if spec.replaced_by.code == spec.code:
                log.add(spec.replaced_by.where, _("a unit cannot be replaced by itself"))
            elif spec.replaced_by.code not in known:
                log.add(
                    spec.replaced_by.where,
                    _("unknown unit {code}").format(code=spec.replaced_by.code),
                )
    parents = final_parents(first, existing)
    for cycle in find_cycles(parents, list(first)):
        refs = [first[c].parent for c in cycle if c in first]
        where = next((r.where for r in refs if r is not None), first[cycle[0]].where)
        log.add(
            where,
            _("the unit tree has a cycle: {cycle}").format(cycle=" -> ".join([*cycle, cycle[0]])),
        )


def final_parents(
    specs: dict[str, UnitSpec], existing: dict[str, ExistingUnit]
) -> dict[str, str | None]:
    """Each unit's parent code once the file is applied (unknown parents dropped)."""
    code_of = {u.id: u.code for u in existing.values()}
    parents: dict[str, str | None] = {
        u.code: code_of.get(u.parent_id) if u.parent_id is not None else None
        for u in existing.values()
    }
    for code, spec in specs.items():
        parents[code] = spec.parent.code if spec.parent is not None else None
    return {c: (p if p in parents else None) for c, p in parents.items()}


def find_cycles(parents: dict[str, str | None], starts: Iterable[str]) -> list[list[str]]:
    """Cycles reachable by walking up from ``starts``; each cycle once, in walking order."""
    done: set[str] = set()
    cycles: list[list[str]] = []
    for start in starts:
        trail: list[str] = []
        on_trail: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done:
            if node in on_trail:
                cycles.append(trail[on_trail[node] :])
                break
            on_trail[node] = len(trail)
            trail.append(node)
            node = parents.get(node)
        done.update(trail)
    return cycles


def _depths(parents: dict[str, str | None]) -> dict[str, int]:
    """Depth of every unit in an acyclic parent map (root = 0)."""
    depth: dict[str, int] = {}
    for start in parents:
        trail: list[str] = []
        node: str | None = start
        while node is not None and node not in depth:
            trail.append(node)
            node = parents[node]
        base = -1 if node is None else depth[node]
        for code in reversed(trail):
            base += 1
            depth[code] = base
    return depth


def _wanted(spec: UnitSpec) -> dict[str, Any]:
    values = dict(spec.fields)
    if "name" in values:
        values["name_search"] = fold(values["name"])
    return values


async def apply_units(
    session: AsyncSession, specs: Sequence[UnitSpec], existing: dict[str, ExistingUnit]
) -> tuple[Counts, dict[str, int]]:
    """Insert, update and move units as the (checked) specs say; return counts and code -> id."""
    counts = Counts()
    by_code = {s.code: s for s in specs}
    parents = final_parents(by_code, existing)
    depth = _depths(parents)
    ordered = sorted(specs, key=lambda s: depth[s.code])  # parents before children
    ids = {code: u.id for code, u in existing.items()}

    new = [s for s in ordered if s.code not in existing]
    if new:
        # Draw the new ids first, so each row is inserted with its final path.
        drawn = await session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('unit', 'id'))"
                " FROM generate_series(1, :n) ORDER BY 1"
            ),
            {"n": len(new)},
        )
        for spec, (new_id,) in zip(new, drawn.all(), strict=True):
            ids[spec.code] = new_id
    paths = {code: (u.path, u.depth) for code, u in existing.items()}
    rows: list[dict[str, Any]] = []
    for spec in new:
        parent = parents[spec.code]
        parent_path, parent_depth = paths[parent] if parent is not None else (None, -1)
        paths[spec.code] = (child_path(parent_path, ids[spec.code]), parent_depth + 1)
        rows.append(
            {
                "id": ids[spec.code],
                "code": spec.code,
                "parent_id": ids[parent] if parent is not None else None,
                "path": paths[spec.code][0],
                "depth": paths[spec.code][1],
                **_wanted(spec),
            }
        )
    if rows:
        await session.execute(insert(Unit), rows)
        counts.created = len(rows)

    changed: set[str] = set()
    for spec in ordered:
        current = existing.get(spec.code)
        if current is None:
            continue
        diff = {k: v for k, v in _wanted(spec).items() if current.values.get(k) != v}
        if diff:
            await session.execute(update(Unit).where(Unit.id == current.id).values(**diff))
            changed.add(spec.code)

    for spec in ordered:
        if not spec.manages_replaced_by:
            continue
        target = ids[spec.replaced_by.code] if spec.replaced_by is not None else None
        current = existing.get(spec.code)
        if (current.replaced_by_id if current else None) != target:
            await session.execute(
                update(Unit).where(Unit.id == ids[spec.code]).values(replaced_by_id=target)
            )
            if current is not None:
                changed.add(spec.code)

    for spec in ordered:
        current = existing.get(spec.code)
        parent = parents[spec.code]
        parent_id = ids[parent] if parent is not None else None
        if current is not None and current.parent_id != parent_id:
            await move_subtree(session, current.id, parent_id)
            changed.add(spec.code)

    counts.updated = len(changed)
    counts.unchanged = len(by_code) - counts.created - counts.updated
    return counts, ids


async def move_subtree(session: AsyncSession, unit_id: int, parent_id: int | None) -> int:
    """Hang ``unit_id`` under ``parent_id``; rewrite its subtree's paths in one UPDATE.

    Returns the number of rows whose path changed (the unit and its descendants).
    """
    old_path, old_depth = (
        await session.execute(select(Unit.path, Unit.depth).where(Unit.id == unit_id))
    ).one()
    if parent_id is None:
        new_path, new_depth = child_path(None, unit_id), 0
    else:
        parent_path, parent_depth = (
            await session.execute(select(Unit.path, Unit.depth).where(Unit.id == parent_id))
        ).one()
        new_path, new_depth = child_path(parent_path, unit_id), parent_depth + 1
    result = await session.execute(
        update(Unit)
        .where(Unit.path.startswith(old_path))
        .values(
            path=literal(new_path) + func.substr(Unit.path, len(old_path) + 1),
            depth=Unit.depth + (new_depth - old_depth),
            parent_id=case((Unit.id == unit_id, parent_id), else_=Unit.parent_id),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
