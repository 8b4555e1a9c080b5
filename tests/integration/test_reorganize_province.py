"""A province-sized mapping (480 communes into 130, 20 districts ended) applies completely.

Functional, not timed: ``python -m bench.reorganize`` measures the same mapping.
"""

from __future__ import annotations

from pathlib import Path

from bench.reorganize import build_province, groups, mapping_csv
from db.session import Database, UnitOfWork
from tests.integration.reorg_support import AFTER, rows, run_mapping, write


async def test_a_province_sized_reorganisation(db: Database, tmp_path: Path) -> None:
    async with UnitOfWork(db) as uow:
        await build_province(uow.session)
        await uow.commit()
    sizes = [len(g) for g in groups()]
    assert (len(sizes), sum(sizes), min(sizes), max(sizes)) == (130, 480, 3, 4)
    path = write(tmp_path, mapping_csv())

    report = await run_mapping(db, path, now=AFTER)
    assert report.changes.counts() == {
        "units_opened": 130,
        "units_closed": 500,  # 480 communes, 20 districts
        "assignments_moved": 1440,  # 3 open ones a commune
        "assignments_closed": 40,  # 2 a district
        "grants_moved": 480,
        "grants_ended": 20,
        "tips_moved": 960,  # 2 open a commune; the closed one stays
        "invites_moved": 0,
        "invites_revoked": 0,
        "subscriptions_moved": 0,
        "subscriptions_ended": 0,
    }
    # Each new commune owes each of the 3 tasks once, targets summed: 10 per commune.
    owed = await rows(
        db,
        "SELECT a.task_id, count(*), sum(a.target) FROM assignment a JOIN unit u"
        " ON u.id = a.unit_id WHERE u.code LIKE 'moi-%' GROUP BY a.task_id ORDER BY 1",
    )
    assert owed == [(1, 130, 4800), (2, 130, None), (3, 130, None)]
    assert await rows(db, "SELECT count(*) FROM unit WHERE valid_to IS NULL") == [(131,)]
    assert await rows(db, "SELECT count(*) FROM checkin") == [(480,)]
    # The province admin hears once, about the 20 district supervisors.
    [(payload,)] = await rows(db, "SELECT payload FROM outbox")
    assert len(payload["messages"][0]["choices"]) == 20

    again = await run_mapping(db, path, now=AFTER)
    assert again.changes.empty and not again.changed
