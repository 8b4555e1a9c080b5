"""Benchmark: a province-sized reorganisation (``antt unit reorganize``) in one transaction.

On an embedded PostgreSQL in a temporary folder under ``.antt-bench/``, migrated to
head: 1 province, 20 districts, 480 communes (24 a district), a 2025 plan whose
communes owe 3 tasks each and districts 2 (1,480 assignments), a check-in on every
commune's count task, an officer on every commune, a supervisor on every district, a
province admin, 2 open tips and 1 closed tip a commune. The mapping (``mapping_csv``)
merges the 480 communes into 130 new ones under the province (3 or 4 neighbours
each) and ends the 20 districts on 01/07/2025.

Measured, each run in its own transaction rolled back afterwards so every run starts
from the same data: the whole apply (check, 130 units opened, 500 closed, 1,440
assignments passed on and 40 closed, 500 grants, 960 tips; the admin's notice), and,
as the baseline in the same run, reading and checking the mapping alone. Medians of
``--runs`` (default 3).

Target (issue 18): the whole apply < 30 s.

    .venv/bin/python -m bench.reorganize            # about a minute
    .venv/bin/python -m bench.reorganize --runs 1

The last line printed is a JSON object with the figures and the target.
``build_province`` and ``mapping_csv`` also serve the functional test
(``tests/integration/test_reorganize_province.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".antt-bench"
DISTRICTS = 20
COMMUNES_PER_DISTRICT = 24
NEW_COMMUNES = 130
TARGET_S = 30.0
EFFECTIVE = "01/07/2025"


def commune_code(d: int, c: int) -> str:
    return f"x-{d:02d}-{c:02d}"


def new_code(n: int) -> str:
    return f"moi-{n:03d}"


def groups() -> list[list[str]]:
    """The 480 communes, in order, cut into 130 runs of 3 or 4 neighbours."""
    communes = [
        commune_code(d, c)
        for d in range(1, DISTRICTS + 1)
        for c in range(1, COMMUNES_PER_DISTRICT + 1)
    ]
    total = len(communes)
    return [
        communes[i * total // NEW_COMMUNES : (i + 1) * total // NEW_COMMUNES]
        for i in range(NEW_COMMUNES)
    ]


def mapping_csv() -> str:
    """The mapping: every commune into its group's new commune, every district ended."""
    lines = ["old_code,new_code,effective_date,new_name,new_kind,new_parent"]
    for n, members in enumerate(groups(), start=1):
        for i, old in enumerate(members):
            if i == 0:
                lines.append(f"{old},{new_code(n)},{EFFECTIVE},Xã Mới {n:03d},commune,nghe-an")
            else:
                lines.append(f"{old},{new_code(n)},{EFFECTIVE},,,")
    lines += [f"h-{d:02d},,{EFFECTIVE},,," for d in range(1, DISTRICTS + 1)]
    return "\n".join(lines) + "\n"


async def build_province(session: AsyncSession) -> None:
    """The dataset of the module doc, written with explicit ids (no commit)."""
    from db.models import (
        Assignment,
        Checkin,
        Identity,
        Member,
        Plan,
        RoleGrant,
        Task,
        Tip,
        TipCategory,
        Unit,
    )
    from db.units import fold

    units: list[dict[str, Any]] = [
        {
            "id": 1,
            "code": "nghe-an",
            "name": "Tỉnh Nghệ An",
            "name_search": "tinh nghe an",
            "kind": "province",
            "parent_id": None,
            "path": "/1/",
            "depth": 0,
        }
    ]
    commune_ids: list[int] = []
    district_ids: list[int] = []
    next_id = 2
    for d in range(1, DISTRICTS + 1):
        district_id = next_id
        next_id += 1
        district_ids.append(district_id)
        name = f"Huyện {d:02d}"
        units.append(
            {
                "id": district_id,
                "code": f"h-{d:02d}",
                "name": name,
                "name_search": fold(name),
                "kind": "district",
                "parent_id": 1,
                "path": f"/1/{district_id}/",
                "depth": 1,
            }
        )
        for c in range(1, COMMUNES_PER_DISTRICT + 1):
            cid = next_id
            next_id += 1
            commune_ids.append(cid)
            name = f"Xã {d:02d}-{c:02d}"
            units.append(
                {
                    "id": cid,
                    "code": commune_code(d, c),
                    "name": name,
                    "name_search": fold(name),
                    "kind": "commune",
                    "parent_id": district_id,
                    "path": f"/1/{district_id}/{cid}/",
                    "depth": 2,
                }
            )
    await session.execute(insert(Unit), units)
    await session.execute(
        text("SELECT setval(pg_get_serial_sequence('unit', 'id'), :n)"), {"n": next_id}
    )

    session.add(Plan(id=1, code="KH-2025", title_vi="Kế hoạch 2025", year=2025))
    session.add(TipCategory(code="other", title_vi="Khác", title_en="Other"))
    await session.flush()
    tasks = [
        (1, "cameras", "count"),
        (2, "drug-free", "milestone"),
        (3, "report", "report"),
        (4, "training", "percent"),
        (5, "district-report", "report"),
    ]
    await session.execute(
        insert(Task),
        [
            {"id": i, "plan_id": 1, "code": code, "kind": kind, "title_vi": code, "sort": i}
            for i, code, kind in tasks
        ],
    )
    deadline = dt.date(2025, 12, 31)
    assignments: list[dict[str, Any]] = []
    for cid in commune_ids:
        assignments.append(
            {"task_id": 1, "unit_id": cid, "target": Decimal(10), "deadline": deadline}
        )
        assignments.append({"task_id": 2, "unit_id": cid, "target": None, "deadline": deadline})
        assignments.append({"task_id": 3, "unit_id": cid, "target": None, "deadline": deadline})
    for did in district_ids:
        assignments.append(
            {"task_id": 4, "unit_id": did, "target": Decimal(80), "deadline": deadline}
        )
        assignments.append({"task_id": 5, "unit_id": did, "target": None, "deadline": deadline})
    for i, row in enumerate(assignments, start=1):
        row["id"] = i
        row["inferred"] = False
    await session.execute(insert(Assignment), assignments)

    people = len(commune_ids) + len(district_ids) + 1
    await session.execute(
        insert(Member), [{"id": i, "full_name": f"Cán bộ {i:04d}"} for i in range(1, people + 1)]
    )
    await session.execute(
        insert(Identity),
        [
            {
                "member_id": i,
                "channel": "bench",
                "external_id": str(i),
                "chat_id": str(i),
                "display_name": f"Cán bộ {i:04d}",
                "language": "vi",
            }
            for i in range(1, people + 1)
        ],
    )
    grants = [
        {"member_id": i + 1, "unit_id": cid, "role": "officer"} for i, cid in enumerate(commune_ids)
    ]
    grants += [
        {"member_id": len(commune_ids) + i + 1, "unit_id": did, "role": "supervisor"}
        for i, did in enumerate(district_ids)
    ]
    grants.append({"member_id": people, "unit_id": 1, "role": "admin"})
    await session.execute(insert(RoleGrant), grants)

    at = dt.datetime(2025, 6, 20, 2, 0, tzinfo=dt.UTC)
    count_rows = [a for a in assignments if a["task_id"] == 1]
    await session.execute(
        insert(Checkin),
        [
            {"assignment_id": a["id"], "member_id": 1, "value": Decimal(5), "created_at": at}
            for a in count_rows
        ],
    )
    tips = []
    for cid in commune_ids:
        for k, status in enumerate(("new", "acknowledged", "closed")):
            tips.append(
                {
                    "code_hash": hashlib.sha256(f"{cid}-{k}".encode()).hexdigest(),
                    "category": "other",
                    "description": "tin báo",
                    "unit_id": cid,
                    "status": status,
                    "created_at": at,
                }
            )
    await session.execute(insert(Tip), tips)
    for table in ("unit", "plan", "task", "assignment", "member"):  # ids given above
        await session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")
        )
    await session.flush()


async def _run(db: Any, mapping: Any, *, check_only: bool) -> float:
    from db.importing import lock_imports
    from db.reorganize import check_mapping, reorganize
    from db.session import UnitOfWork
    from db.unit_sync import load_units
    from handlers.unit_changes import notify_lost_roles

    now = dt.datetime(2025, 7, 1, 1, 0, tzinfo=dt.UTC)
    async with UnitOfWork(db) as uow:
        started = time.perf_counter()
        if check_only:
            await lock_imports(uow.session)
            check_mapping(mapping, await load_units(uow.session))
        else:
            report = await reorganize(uow.session, mapping, today=now.date(), now=now)
            await notify_lost_roles(uow.session, report.changes.ended_grants, now)
            await uow.session.flush()
            counts = report.changes.counts()
            assert counts["units_closed"] == DISTRICTS * (COMMUNES_PER_DISTRICT + 1), counts
        elapsed = time.perf_counter() - started
        await uow.rollback()
    return elapsed


async def benchmark(runs: int) -> dict[str, Any]:
    from db import migrate
    from db.embedded import embedded_url, start_embedded
    from db.reorg_file import read_mapping
    from db.session import Database, UnitOfWork

    BENCH_DIR.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="reorg-", dir=BENCH_DIR))
    server = start_embedded(data_dir)
    db = Database(embedded_url(server), pool_size=2)
    try:
        await migrate.upgrade(db)
        async with UnitOfWork(db) as uow:
            await build_province(uow.session)
            await uow.commit()
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
        path = data_dir / "mapping.csv"
        path.write_text(mapping_csv(), encoding="utf-8")
        started = time.perf_counter()
        mapping = read_mapping(path)
        read_s = time.perf_counter() - started
        check = [await _run(db, mapping, check_only=True) for _ in range(runs)]
        apply = [await _run(db, mapping, check_only=False) for _ in range(runs)]
    finally:
        await db.dispose()
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
    median = statistics.median(apply)
    return {
        "benchmark": "reorganize",
        "mapping_rows": len(mapping.rows),
        "communes": DISTRICTS * COMMUNES_PER_DISTRICT,
        "new_communes": NEW_COMMUNES,
        "districts_ended": DISTRICTS,
        "runs": runs,
        "apply_s_median": round(median, 2),
        "apply_s_max": round(max(apply), 2),
        "baseline_read_and_check_s_median": round(read_s + statistics.median(check), 3),
        "target_apply_s": TARGET_S,
        "meets_target": median < TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reorganize", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = asyncio.run(benchmark(max(args.runs, 1)))
    print(
        f"apply: median {result['apply_s_median']} s over {result['runs']} runs"
        f" (read and check alone: {result['baseline_read_and_check_s_median']} s);"
        f" target < {TARGET_S:.0f} s",
        file=sys.stderr,
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
