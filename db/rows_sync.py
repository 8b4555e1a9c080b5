"""Upsert rows by a natural key after comparing them with what is stored.

Comparing first (instead of ``INSERT ... ON CONFLICT DO UPDATE`` for every row)
lets an import report created / updated / unchanged exactly, leaves unchanged
rows untouched, and draws no sequence numbers when nothing is new. Callers hold
``db.importing.lock_imports``, so nothing changes between the read and the write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.importing import Counts

Key = tuple[Any, ...]


@dataclass
class SyncResult:
    counts: Counts = field(default_factory=Counts)
    ids: dict[Key, Any] = field(default_factory=dict)
    stale: set[Key] = field(default_factory=set)


async def sync_rows(
    session: AsyncSession,
    model: Any,
    key: tuple[str, ...],
    wanted: Sequence[dict[str, Any]],
    *,
    scope: ColumnElement[bool] | None = None,
    id_column: str = "id",
) -> SyncResult:
    """Make the rows of ``model`` in ``scope`` match ``wanted`` by ``key``; never deletes.

    ``ids`` maps every wanted key to its row's ``id_column``; ``stale`` holds keys of
    stored rows in scope that ``wanted`` does not mention.
    """
    result = SyncResult()
    columns = list(wanted[0]) if wanted else list(key)
    selected = list(dict.fromkeys([id_column, *key, *columns]))
    stmt = select(*(getattr(model, c) for c in selected))
    if scope is not None:
        stmt = stmt.where(scope)
    stored: dict[Key, dict[str, Any]] = {}
    for found in (await session.execute(stmt)).mappings():
        stored[tuple(found[k] for k in key)] = dict(found)

    new_rows: list[dict[str, Any]] = []
    seen: set[Key] = set()
    for row in wanted:
        row_key = tuple(row[k] for k in key)
        seen.add(row_key)
        current = stored.get(row_key)
        if current is None:
            new_rows.append(row)
            continue
        result.ids[row_key] = current[id_column]
        diff = {c: v for c, v in row.items() if c not in key and current.get(c) != v}
        if diff:
            where = and_(*(getattr(model, k) == row[k] for k in key))
            await session.execute(update(model).where(where).values(**diff))
            result.counts.updated += 1
        else:
            result.counts.unchanged += 1
    if new_rows:
        returning = [getattr(model, c) for c in dict.fromkeys([id_column, *key])]
        inserted = await session.execute(insert(model).returning(*returning), new_rows)
        for made in inserted.mappings():
            result.ids[tuple(made[k] for k in key)] = made[id_column]
        result.counts.created = len(new_rows)
    result.stale = set(stored) - seen
    return result
