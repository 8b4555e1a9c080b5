"""The demo's reorganisation: shipped mapping, waiting for 01/07/2025, applied by the demo's
day jobs (or at once by ``antt demo --date``), and a restart that changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import Settings
from bot.demo import day_jobs
from bot.demo_reorg import hand_over_mapping
from bot.demo_seed import DEMO_START, seed
from db.session import Database, UnitOfWork
from tests.integration import test_cli
from tests.integration.reorg_support import rows
from tests.integration.test_cli import antt, sql

antt_env = test_cli.antt_env  # the fixture: ANTT_* settings for the test database
JULY_1_MORNING = dt.datetime(2025, 7, 1, 0, 0, tzinfo=dt.UTC)  # 07:00 local


async def start_demo(db: Database, settings: Settings, now: dt.datetime) -> None:
    async with UnitOfWork(db) as uow:
        await seed(uow.session, settings)
        await hand_over_mapping(uow.session, now)
        await uow.commit()


async def grants(db: Database) -> list[tuple[object, ...]]:
    return await rows(
        db,
        "SELECT m.full_name, g.role, u.code FROM role_grant g JOIN member m ON m.id = g.member_id"
        " JOIN unit u ON u.id = g.unit_id WHERE g.revoked_at IS NULL ORDER BY 1, 2",
    )


async def test_the_merger_waits_for_july_and_the_day_jobs_apply_it(
    db: Database, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    await start_demo(db, settings, DEMO_START)
    assert await rows(db, "SELECT effective_on, status FROM reorganization") == [
        (dt.date(2025, 7, 1), "pending")
    ]
    assert await rows(db, "SELECT count(*) FROM unit WHERE valid_to IS NOT NULL") == [(0,)]

    for _name, job in day_jobs():
        await job(db, settings, JULY_1_MORNING)
    closed = await rows(
        db,
        "SELECT u.code, r.code FROM unit u LEFT JOIN unit r ON r.id = u.replaced_by_id"
        " WHERE u.valid_to = '2025-07-01' ORDER BY 1",
    )
    assert closed == [
        ("hung-tien", "dai-hue"),
        ("khanh-son", "thien-nhan"),
        ("kim-lien", "kim-lien-moi"),
        ("nam-anh", "dai-hue"),
        ("nam-dan", None),
        ("nam-giang", "kim-lien-moi"),
        ("nam-hung", "thien-nhan"),
        ("nam-linh", "dai-hue"),
        ("nam-nghia", "thien-nhan"),
        ("nam-thai", "thien-nhan"),
        ("nam-thanh", "thien-nhan"),
        ("nam-xuan", "dai-hue"),
        ("xuan-hoa", "dai-hue"),
    ]
    assert ("Trần Văn Hùng", "officer", "kim-lien-moi") in await grants(db)
    assert ("Hoàng Thị Mai", "officer", "kim-lien-moi") in await grants(db)
    assert not [g for g in await grants(db) if g[0] == "Lê Minh Tuấn"]  # the district ended
    notice = await rows(
        db,
        "SELECT i.external_id FROM outbox o JOIN identity i ON i.id = o.identity_id"
        " WHERE o.dedup_key LIKE 'lost-roles:%'",
    )
    assert notice == [("admin",)]
    # Nam Giang's open tips are in the new commune's inbox now.
    assert await rows(db, "SELECT DISTINCT u.code FROM tip t JOIN unit u ON u.id = t.unit_id") == [
        ("kim-lien-moi",)
    ]

    # A restart changes nothing and grants nothing on the closed units.
    before = (await grants(db), await rows(db, "SELECT count(*) FROM audit"))
    await start_demo(db, settings, JULY_1_MORNING + dt.timedelta(days=3))
    assert (await grants(db), await rows(db, "SELECT count(*) FROM audit")) == before


def test_antt_demo_date_applies_the_merger(
    antt_env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTT_DATA_DIR", str(tmp_path))
    code, _out, err = antt(capsys, "demo", "--date", "01/07/2025", "--setup-only")
    assert (code, err) == (0, "")
    assert sql(
        antt_env, "SELECT name FROM unit WHERE code = 'kim-lien-moi' AND valid_to IS NULL"
    ) == [("Xã Kim Liên",)]
    code, _out, err = antt(capsys, "demo", "--date", "31/12/2024", "--setup-only")
    assert code == 2 and "05/05/2025" in err
