"""The unit tree: look-ups, subtree queries (index-backed by the materialised path)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Unit


def fold(text: str) -> str:
    """Lower-case, accent-free form of a Vietnamese name ("Nghi Hương" -> "nghi huong")."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(stripped.lower().split())


def child_path(parent_path: str | None, unit_id: int) -> str:
    """The materialised path of a unit: its ancestors' ids and its own, ``/1/7/42/``."""
    return f"{parent_path or '/'}{unit_id}/"


async def by_code(session: AsyncSession, code: str) -> Unit | None:
    return (await session.execute(select(Unit).where(Unit.code == code))).scalar_one_or_none()


async def by_id(session: AsyncSession, unit_id: int) -> Unit | None:
    return await session.get(Unit, unit_id)


def in_subtree(root_path: str):  # type: ignore[no-untyped-def]
    """A WHERE clause for ``Unit`` rows in the subtree rooted at ``root_path`` (root included)."""
    return Unit.path.startswith(root_path, autoescape=True)


async def subtree(
    session: AsyncSession, root: Unit, *, active_only: bool = False
) -> Sequence[Unit]:
    """Every unit under ``root`` (root included), in tree order: one index range scan."""
    stmt = select(Unit).where(in_subtree(root.path)).order_by(Unit.path)
    if active_only:
        stmt = stmt.where(Unit.valid_to.is_(None))
    return (await session.execute(stmt)).scalars().all()


async def children(session: AsyncSession, parent: Unit) -> Sequence[Unit]:
    stmt = select(Unit).where(Unit.parent_id == parent.id).order_by(Unit.name)
    return (await session.execute(stmt)).scalars().all()


async def ancestors(session: AsyncSession, unit: Unit) -> Sequence[Unit]:
    """The unit's ancestors from the root down (the unit itself excluded)."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p][:-1]
    if not ids:
        return []
    rows = (await session.execute(select(Unit).where(Unit.id.in_(ids)))).scalars().all()
    order = {uid: i for i, uid in enumerate(ids)}
    return sorted(rows, key=lambda u: order[u.id])


def is_within(unit: Unit, scope: Unit) -> bool:
    """True when ``unit`` lies in the subtree of ``scope`` (scope included)."""
    return unit.path.startswith(scope.path)


async def search_by_name(
    session: AsyncSession, query: str, *, kinds: Sequence[str] | None = None, limit: int = 10
) -> Sequence[Unit]:
    """Units whose folded name contains the folded query, prefix matches first."""
    folded = fold(query)
    if not folded:
        return []
    stmt = select(Unit).where(Unit.name_search.contains(folded, autoescape=True))
    if kinds:
        stmt = stmt.where(Unit.kind.in_(list(kinds)))
    stmt = stmt.where(Unit.valid_to.is_(None)).order_by(Unit.depth.desc(), Unit.name).limit(limit)
    return (await session.execute(stmt)).scalars().all()
