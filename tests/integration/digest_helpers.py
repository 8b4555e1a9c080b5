"""A known dataset for the digest and export tests, on the tip tests' unit tree.

At ``NOW`` (05/05/2025 07:00 in Hanoi) the province holds, besides the tip
world's staff (``s-vinh`` supervises Thành phố Vinh, ``s-tinh`` the province):

============  ===============  ===========================  =======================
unit          cameras (count)  peak plan (milestone)         tips
============  ===============  ===========================  =======================
nghi-huong    20 by 30/06;     due 08/05 (soon), nothing    #1 drugs new −2 h;
(Vinh)        5 at −3 d, 7 at                               #4 crime new −30 h
              −3 h corrected
              to 8 at −2 h
ben-thuy      10 by 01/05      done at −5 h (due 30/04)     #2 drugs closed −5 h;
(Vinh)        (overdue); 4 at                               #6 traffic acknowledged
              −30 h                                         −40 h
nghi-thach    5 by 10/05;      —                            #3 other new −1 h
(Nghi Lộc)    5 at −1 h (done)
hung-01       —                due 20/04 (overdue)          #5 fire new −50 h
============  ===============  ===========================  =======================
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from bot.config import Settings
from db.models import Assignment, Checkin, Plan, Task, TaskKind, Tip
from db.session import Database
from tests.integration import tip_helpers
from tests.support import TEST_KEY

NOW = dt.datetime(2025, 5, 5, 0, 0, tzinfo=dt.UTC)  # 07:00 in Asia/Ho_Chi_Minh
TODAY = dt.date(2025, 5, 5)
_hashes = itertools.count(1)


def ago(**delta: float) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


@dataclass
class Dataset:
    world: tip_helpers.World
    cameras: int
    peak: int
    tips: dict[int, int]  # tip number in the table above -> tip id
    assignments: dict[tuple[str, str], int]  # (task, unit code) -> assignment id


async def make_dataset(db: Database) -> Dataset:
    world = await tip_helpers.make_world(db, communes_in_hung_nguyen=3)
    units = world.units
    officer = world.members["o-nh"]
    async with db.sessions() as s:
        plan = Plan(code="KH-DIGEST", title_vi="Kế hoạch thử", title_en="Test plan", year=2025)
        s.add(plan)
        await s.flush()
        cameras = Task(
            plan_id=plan.id,
            code="cameras",
            kind=TaskKind.COUNT.value,
            title_vi="Lắp camera an ninh",
            title_en="Security cameras",
            sort=1,
        )
        peak = Task(
            plan_id=plan.id,
            code="peak",
            kind=TaskKind.MILESTONE.value,
            title_vi="Kế hoạch cao điểm",
            title_en="Peak plan",
            sort=2,
        )
        s.add_all([cameras, peak])
        await s.flush()
        owed = {
            ("cameras", "nghi-huong"): (cameras.id, dt.date(2025, 6, 30), 20),
            ("cameras", "ben-thuy"): (cameras.id, dt.date(2025, 5, 1), 10),
            ("cameras", "nghi-thach"): (cameras.id, dt.date(2025, 5, 10), 5),
            ("peak", "nghi-huong"): (peak.id, dt.date(2025, 5, 8), None),
            ("peak", "ben-thuy"): (peak.id, dt.date(2025, 4, 30), None),
            ("peak", "hung-01"): (peak.id, dt.date(2025, 4, 20), None),
        }
        assignments: dict[tuple[str, str], int] = {}
        for (task, code), (task_id, deadline, target) in owed.items():
            row = Assignment(
                task_id=task_id,
                unit_id=units[code],
                deadline=deadline,
                target=Decimal(target) if target is not None else None,
            )
            s.add(row)
            await s.flush()
            assignments[(task, code)] = row.id

        def checkin(
            key: tuple[str, str],
            at: dt.datetime,
            *,
            value: int | None = None,
            status: str | None = None,
            supersedes: int | None = None,
            note: str | None = None,
        ) -> Checkin:
            row = Checkin(
                assignment_id=assignments[key],
                member_id=officer,
                value=Decimal(value) if value is not None else None,
                status=status,
                supersedes_id=supersedes,
                note=note,
                created_at=at,
            )
            s.add(row)
            return row

        checkin(("cameras", "nghi-huong"), ago(days=3), value=5)
        wrong = checkin(("cameras", "nghi-huong"), ago(hours=3), value=7)
        await s.flush()
        checkin(
            ("cameras", "nghi-huong"),
            ago(hours=2),
            value=8,
            supersedes=wrong.id,
            note='=HYPERLINK("http://evil.example")',
        )
        checkin(("cameras", "ben-thuy"), ago(hours=30), value=4)
        checkin(("peak", "ben-thuy"), ago(hours=5), status="done")
        checkin(("cameras", "nghi-thach"), ago(hours=1), value=5)

        tips: dict[int, int] = {}
        for number, category, code, at, status in (
            (1, "drugs", "nghi-huong", ago(hours=2), "new"),
            (2, "drugs", "ben-thuy", ago(hours=5), "closed"),
            (3, "other", "nghi-thach", ago(hours=1), "new"),
            (4, "crime", "nghi-huong", ago(hours=30), "new"),
            (5, "fire", "hung-01", ago(hours=50), "new"),
            (6, "traffic", "ben-thuy", ago(hours=40), "acknowledged"),
        ):
            tip = Tip(
                code_hash=f"digest-test-{next(_hashes)}",
                category=category,
                description=f"Tip number {number}",
                unit_id=units[code],
                status=status,
                outcome="handled" if status == "closed" else None,
                anonymous=True,
                created_at=at,
                closed_at=at + dt.timedelta(hours=1) if status == "closed" else None,
                acknowledged_at=at + dt.timedelta(hours=1) if status != "new" else None,
            )
            s.add(tip)
            await s.flush()
            tips[number] = tip.id
        await s.commit()
    return Dataset(world, cameras.id, peak.id, tips, assignments)


def settings() -> Settings:
    return Settings(secret_key=TEST_KEY)  # type: ignore[arg-type]
