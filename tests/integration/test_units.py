"""The unit tree on real PostgreSQL: subtree queries (index-backed), ancestors, search."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from db.models import Unit
from db.plan_import import SHIPPED_PLAN
from db.session import Database
from db.units import ancestors, by_code, children, in_subtree, is_within, search_by_name, subtree
from tests.integration.import_support import import_plan, import_units


async def _unit(session, code: str) -> Unit:  # type: ignore[no-untyped-def]
    unit = await by_code(session, code)
    assert unit is not None, code
    return unit


async def test_subtree_children_ancestors(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)
    async with db.sessions() as session:
        province = await _unit(session, "nghe-an")
        vinh = await _unit(session, "vinh")
        ward = await _unit(session, "nghi-huong")

        everything = await subtree(session, province)
        assert len(everything) == 40
        seen: set[int] = set()
        for unit in everything:  # tree order: every unit after its parent
            assert unit.parent_id is None or unit.parent_id in seen
            seen.add(unit.id)

        assert {u.code for u in await subtree(session, vinh)} == {
            "vinh",
            "vinh-tan",
            "hung-loc",
            "quang-trung",
            "ben-thuy",
            "nghi-huong",
        }
        assert len(await children(session, vinh)) == 5
        assert [u.code for u in await subtree(session, ward)] == ["nghi-huong"]
        assert [u.code for u in await ancestors(session, ward)] == ["nghe-an", "vinh"]
        assert await ancestors(session, province) == []
        assert is_within(ward, vinh) and is_within(ward, province) and is_within(vinh, vinh)
        assert not is_within(vinh, ward)
        hoang_mai = await _unit(session, "hoang-mai")
        assert not is_within(ward, hoang_mai)
        # /1/13/ must not match /1/130/: the trailing slash is part of the prefix
        assert all(u.path.startswith(vinh.path) for u in await subtree(session, vinh))


async def test_search_by_name_ignores_accents_and_case(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)
    async with db.sessions() as session:
        for query in ("nghi huong", "NGHI HƯƠNG", "Nghi Hương", "  nghi   huong "):
            assert [u.name for u in await search_by_name(session, query)] == [
                "Phường Nghi Hương"
            ], query
        assert [u.code for u in await search_by_name(session, "do luong")] == ["do-luong"]
        assert await search_by_name(session, "nghi huong", kinds=["district"]) == []
        assert await search_by_name(session, "") == []
        wards = await search_by_name(session, "phuong", kinds=["ward"], limit=20)
        assert len(wards) == 8
        assert [u.code for u in await search_by_name(session, "50%_x")] == []


def _big_tree_csv(districts: int, communes: int) -> str:
    lines = ["code,name,kind,parent_code", "p,Tỉnh Thử,province,"]
    for d in range(districts):
        lines.append(f"d{d},Huyện {d},district,p")
        lines.extend(f"d{d}-c{c},Xã {d}-{c},commune,d{d}" for c in range(communes))
    return "\n".join(lines) + "\n"


async def test_subtree_query_uses_the_path_index(db: Database, tmp_path: Path) -> None:
    csv_file = tmp_path / "big.csv"
    csv_file.write_text(_big_tree_csv(40, 100), encoding="utf-8")
    started = time.perf_counter()
    counts = await import_units(db, csv_file)
    elapsed = time.perf_counter() - started
    assert counts.created == 4041
    assert elapsed < 30, f"importing 4041 units took {elapsed:.1f}s"

    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE unit"))
        root_path = (await conn.execute(select(Unit.path).where(Unit.code == "d7"))).scalar_one()
        stmt = select(Unit).where(in_subtree(root_path)).order_by(Unit.path)
        sql = str(
            stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        )
        plan = "\n".join(r[0] for r in (await conn.execute(text("EXPLAIN " + sql))).all())
        assert "ix_unit_path" in plan, plan
        found = (await conn.execute(stmt)).all()
        assert len(found) == 101
