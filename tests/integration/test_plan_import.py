"""Importing the shipped 2025 plan on real PostgreSQL: counts read off the plan's text,
idempotence, updates, and malformed files refused with nothing written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from db.plan_import import SHIPPED_PLAN, PlanError, read_plan
from db.session import Database
from db.units import fold
from tests.integration.import_support import (
    dump,
    import_plan,
    in_english,
    line_of,
    row_counts,
    rows,
    scalar,
)

PLAN_TEXT = SHIPPED_PLAN.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    yield from in_english()


# Counted by hand from the YAML (groups: all_districts has 20 members, reporting_units 29,
# parish_model_localities 15, model_districts_2025 3, model_districts_2026_prep 2,
# drug_free_district_q2 5, drug_free_all_communes_2025 6).
EXPECTED_ASSIGNMENTS = {
    "model-ward-police": 8,  # eight wards named
    "typical-communes": 20,  # 20 - 5 excepted (target 30) + 3 (100) + 2 (60)
    "typical-agencies": 20,  # 20 - 3 excepted + 3
    "typical-enterprises": 20,
    "typical-schools": 20,
    "typical-province-level-units": 1,
    "industrial-park-pilot": 2,  # cong-an-tinh with bql-kkt-dong-nam (III.7)
    "enterprise-pilot": 18,  # 20 - hung-nguyen, nghi-loc
    "former-police-model": 1,
    "school-law-model-review": 2,
    "traffic-tip-model-review": 1,
    "parish-model": 17,  # the pilot: cong-an-tinh, so-dttg (III.1, III.3) + 15 localities
    "at-risk-youth-model": 22,  # cong-an-tinh, tinh-doan + 20 districts
    "drug-free-district": 5,
    "drug-free-communes": 15,  # 6 at 100% + (20 - 11 excepted) at 30%
    "vinh-drug-free-campaign": 1,
    "festival-host-selection": 1,
    "festival-2025": 1,
    "festival-pilot-sites": 20,
    "festival-commune-activities": 20,
    "model-units-quarterly-report": 1,
    "phase1-review-conference": 1,
    "model-district": 5,  # 3 in 2025 + 2 prepared for 2026
    "former-police-model-review": 1,
    "grassroots-force-law-review": 1,
    "grassroots-force-training": 21,  # cong-an-tinh + 20
    "steering-committee": 29,
    "models-review": 21,
    "youth-model-coordination": 2,
    "parish-model-directive": 1,
    "drug-free-reappraisal": 20,
    "rural-security-criterion": 2,
    "security-standard-classification": 20,
    # section IV, the reporting calendar: every reporting unit (20 districts + 9 agencies)
    # but the provincial police, which compiles the reports
    "implementation-plan": 28,
    "report-6-months": 28,
    "report-1-year": 28,
}
UNITS_BY_KIND = {
    "province": 1,
    "agency": 9,
    "industrial_park": 2,
    "city": 1,  # Vinh
    "town": 2,  # Hoàng Mai, Thái Hòa
    "district": 17,
    "ward": 8,
}


async def test_shipped_plan_counts(db: Database) -> None:
    report = await import_plan(db, SHIPPED_PLAN)

    assert sum(UNITS_BY_KIND.values()) == 40
    assert dict(await rows(db, "SELECT kind, count(*) FROM unit GROUP BY kind")) == UNITS_BY_KIND
    found = dict(
        await rows(
            db,
            "SELECT t.code, count(a.id) FROM task t LEFT JOIN assignment a ON a.task_id = t.id"
            " GROUP BY t.code",
        )
    )
    assert found == EXPECTED_ASSIGNMENTS
    assert sum(EXPECTED_ASSIGNMENTS.values()) == 424
    assert await scalar(db, "SELECT count(*) FROM tip_category") == 9
    counts = {name: c.as_dict() for name, c in report.stats.tables.items()}
    assert counts == {
        "units": {"created": 40, "updated": 0, "unchanged": 0},
        "plans": {"created": 1, "updated": 0, "unchanged": 0},
        "tasks": {"created": 36, "updated": 0, "unchanged": 0},
        "assignments": {"created": 424, "updated": 0, "unchanged": 0},
        "tip categories": {"created": 9, "updated": 0, "unchanged": 0},
    }


async def _targets(db: Database, task: str) -> dict[str, Decimal | None]:
    return dict(
        await rows(
            db,
            "SELECT u.code, a.target FROM assignment a JOIN task t ON t.id = a.task_id"
            " JOIN unit u ON u.id = a.unit_id WHERE t.code = :task",
            task=task,
        )
    )


async def test_group_and_except_expansion(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)

    communes = await _targets(db, "typical-communes")
    by_target: dict[Decimal | None, set[str]] = {}
    for unit, target in communes.items():
        by_target.setdefault(target, set()).add(unit)
    assert {t: len(u) for t, u in by_target.items()} == {30: 15, 100: 3, 60: 2}
    assert by_target[Decimal(100)] == {"nam-dan", "nghia-dan", "con-cuong"}
    assert by_target[Decimal(60)] == {"yen-thanh", "nghi-loc"}

    drug_free = await _targets(db, "drug-free-communes")
    assert len(drug_free) == 15
    assert drug_free["ky-son"] == 100 and drug_free["hung-nguyen"] == 30
    assert "nghi-loc" not in drug_free and "quynh-luu" not in drug_free

    pilot = await _targets(db, "enterprise-pilot")
    assert len(pilot) == 18 and not {"hung-nguyen", "nghi-loc"} & pilot.keys()
    assert await scalar(
        db,
        "SELECT bool_and(a.inferred) FROM assignment a JOIN task t ON t.id = a.task_id"
        " WHERE t.code = 'enterprise-pilot'",
    )
    parish = await _targets(db, "parish-model")
    assert len(parish) == 17 and "hung-nguyen" not in parish
    assert {"cong-an-tinh", "so-dttg"} <= parish.keys()


async def test_owners_and_cadences_follow_the_text(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)
    owners = await rows(
        db,
        "SELECT t.code, a.deadline, string_agg(u.code, ',' ORDER BY u.code)"
        " FROM assignment a JOIN task t ON t.id = a.task_id JOIN unit u ON u.id = a.unit_id"
        " WHERE t.code IN ('industrial-park-pilot', 'parish-model')"
        " AND a.deadline < '2025-12-31' OR t.code = 'industrial-park-pilot'"
        " GROUP BY t.code, a.deadline ORDER BY t.code",
    )
    assert owners == [
        ("industrial-park-pilot", dt.date(2025, 12, 31), "bql-kkt-dong-nam,cong-an-tinh"),
        ("parish-model", dt.date(2025, 7, 15), "cong-an-tinh,so-dttg"),
    ]
    # the provincial police compiles the reports and owes none of them
    assert not await scalar(
        db,
        "SELECT count(*) FROM assignment a JOIN task t ON t.id = a.task_id"
        " JOIN unit u ON u.id = a.unit_id WHERE t.is_reporting AND u.code = 'cong-an-tinh'",
    )
    cadences = dict(await rows(db, "SELECT code, cadence FROM task WHERE kind = 'recurring'"))
    assert cadences == {
        "model-units-quarterly-report": "quarterly",  # "định kỳ hàng quý"
        "grassroots-force-training": None,
        "drug-free-reappraisal": None,
        "security-standard-classification": "yearly",  # "hàng năm"
    }
    classification = await rows(
        db,
        "SELECT DISTINCT a.deadline, a.inferred FROM assignment a JOIN task t"
        " ON t.id = a.task_id WHERE t.code = 'security-standard-classification'",
    )
    assert classification == [(dt.date(2025, 12, 15), True)]
    bases = dict(await rows(db, "SELECT code, recognition FROM task WHERE recognition IS NOT NULL"))
    assert bases == {"typical-communes": "model", "drug-free-communes": "drug_free"}
    figures = await scalar(db, "SELECT figures FROM task WHERE code = 'report-6-months'")
    assert len(figures) == 17
    assert figures[0] == {
        "code": "models-built",
        "vi": "Mô hình, điển hình xây dựng mới",
        "en": "Models built",
    }
    assert {f["code"]: f.get("source") for f in figures}["tips-received"] == "tips_received"
    assert await scalar(db, "SELECT figures FROM task WHERE code = 'report-1-year'") == figures


async def test_reporting_calendar_becomes_report_tasks(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)
    found = await rows(
        db,
        "SELECT t.code, t.kind, t.is_reporting, count(*), min(a.deadline), max(a.deadline),"
        " count(a.target) FROM task t JOIN assignment a ON a.task_id = t.id"
        " WHERE t.is_reporting GROUP BY t.id ORDER BY t.sort",
    )
    assert found == [
        ("implementation-plan", "report", True, 28, dt.date(2025, 3, 20), dt.date(2025, 3, 20), 0),
        ("report-6-months", "report", True, 28, dt.date(2025, 6, 10), dt.date(2025, 6, 10), 0),
        ("report-1-year", "report", True, 28, dt.date(2025, 12, 10), dt.date(2025, 12, 10), 0),
    ]
    units = await rows(
        db,
        "SELECT DISTINCT u.kind FROM assignment a JOIN task t ON t.id = a.task_id"
        " JOIN unit u ON u.id = a.unit_id WHERE t.is_reporting ORDER BY 1",
    )
    assert units == [("agency",), ("city",), ("district",), ("town",)]


async def test_plan_row_units_and_categories_keep_the_files_text(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)
    code, year, coordinator, meta = (
        await rows(
            db,
            "SELECT p.code, p.year, u.code, p.meta FROM plan p"
            " JOIN unit u ON u.id = p.coordinator_unit_id",
        )
    )[0]
    assert (code, year, coordinator) == ("KH-2025-PTTDBVANTQ", 2025, "cong-an-tinh")
    assert len(meta["references"]) == 6
    assert meta["references"][2]["what"].endswith("điển hình, kiểu mẫu giai đoạn 2023-2030")
    assert meta["references"][0]["date"] == "2025-01-16"
    assert len(meta["reports_upward_to"]) == 3
    weapons = await rows(db, "SELECT title_vi, extension FROM tip_category WHERE code='weapons'")
    assert weapons == [("Vũ khí, vật liệu nổ, công cụ hỗ trợ, pháo", True)]
    assert await scalar(db, "SELECT string_agg(code, ',' ORDER BY sort) FROM tip_category") == (
        "crime,drugs,social-evils,traffic,weapons,cyber,fire,residence,other"
    )
    cadence = await rows(db, "SELECT cadence FROM task WHERE code = 'model-units-quarterly-report'")
    assert cadence == [("quarterly",)]


async def test_unit_paths_depths_and_search_names(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)
    units = await rows(db, "SELECT id, parent_id, path, depth, name, name_search FROM unit")
    by_id = {u[0]: u for u in units}
    for uid, parent_id, path, depth, name, name_search in units:
        parent_path = by_id[parent_id][2] if parent_id else "/"
        assert path == f"{parent_path}{uid}/"
        assert depth == path.count("/") - 2
        assert name_search == fold(name)
    ward = await rows(db, "SELECT name_search, depth FROM unit WHERE code = 'nghi-huong'")
    assert ward == [("phuong nghi huong", 2)]


async def test_second_import_changes_nothing(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)
    before = await dump(db)
    report = await import_plan(db, SHIPPED_PLAN)
    assert await dump(db) == before
    assert not report.stats.changed
    assert {c.unchanged for c in report.stats.tables.values()} == {40, 1, 36, 424, 9}
    assert (report.retired_tasks, report.retired_assignments) == (0, 0)
    # one audit row for the first import, none for the second
    assert [r[2] for r in before["audit"]] == ["plan.import"]


async def test_changed_file_updates_in_place_and_retires_dropped_assignments(
    db: Database, tmp_path: Path
) -> None:
    await import_plan(db, SHIPPED_PLAN)
    ids_before = dict(await rows(db, "SELECT code, id FROM unit"))
    changed = (
        PLAN_TEXT.replace(
            "{units: [cong-an-tinh], target: 7, deadline: 2025-12-31}",
            "{units: [cong-an-tinh], target: 8, deadline: 2025-11-30}",
        )
        .replace("name: Phường Nghi Hương}", "name: Phường Nghi Hương (mới)}")
        .replace(
            "      - {units: [do-luong], deadline: 2025-05-10}\n",
            "      - {units: [do-luong, yen-thanh], deadline: 2025-05-10}\n",
        )
        .replace(
            "      - {units: [cong-an-tinh, bql-kkt-dong-nam], deadline: 2025-12-31, note:",
            "      - {units: [cong-an-tinh], deadline: 2025-12-31, note:",
        )
    )
    path = tmp_path / "plan.yaml"
    path.write_text(changed, encoding="utf-8")

    report = await import_plan(db, path)

    counts = {name: c.as_dict() for name, c in report.stats.tables.items()}
    assert counts["units"] == {"created": 0, "updated": 1, "unchanged": 39}
    assert counts["assignments"] == {"created": 1, "updated": 1, "unchanged": 422}
    assert (report.retired_tasks, report.retired_assignments) == (0, 1)
    retired = await rows(
        db,
        "SELECT t.code, u.code FROM assignment a JOIN task t ON t.id = a.task_id"
        " JOIN unit u ON u.id = a.unit_id WHERE a.retired_at IS NOT NULL",
    )
    assert retired == [("industrial-park-pilot", "bql-kkt-dong-nam")]
    assert dict(await rows(db, "SELECT code, id FROM unit")) == ids_before
    target = await rows(
        db,
        "SELECT a.target, a.deadline FROM assignment a JOIN task t ON t.id = a.task_id"
        " WHERE t.code = 'typical-province-level-units'",
    )
    assert target == [(Decimal(8), dt.date(2025, 11, 30))]
    assert await scalar(db, "SELECT count(*) FROM assignment") == 425  # the retired one kept
    assert await scalar(db, "SELECT name_search FROM unit WHERE code = 'nghi-huong'") == (
        "phuong nghi huong (moi)"
    )


async def test_moving_a_unit_rewrites_its_subtree(db: Database, tmp_path: Path) -> None:
    await import_plan(db, SHIPPED_PLAN)
    # Vinh (with its five wards) moves under a new unit; a ward moves to Hoàng Mai.
    moved = PLAN_TEXT.replace(
        "  - {code: vinh, kind: city, parent: nghe-an,",
        "  - {code: region-south, kind: agency, parent: nghe-an, name: Vùng thử}\n"
        "  - {code: vinh, kind: city, parent: region-south,",
    ).replace(
        "{code: ben-thuy, kind: ward, parent: vinh,",
        "{code: ben-thuy, kind: ward, parent: hoang-mai,",
    )
    path = tmp_path / "plan.yaml"
    path.write_text(moved, encoding="utf-8")
    report = await import_plan(db, path)
    assert report.stats.tables["units"].as_dict() == {"created": 1, "updated": 2, "unchanged": 38}

    units = {
        c: (i, p, d) for c, i, p, d in await rows(db, "SELECT code, id, path, depth FROM unit")
    }
    root, region, vinh = units["nghe-an"][0], units["region-south"][0], units["vinh"][0]
    assert units["vinh"][1:] == (f"/{root}/{region}/{vinh}/", 2)
    assert units["nghi-huong"][1:] == (f"/{root}/{region}/{vinh}/{units['nghi-huong'][0]}/", 3)
    hoang_mai = units["hoang-mai"][0]
    assert units["ben-thuy"][1:] == (f"/{root}/{hoang_mai}/{units['ben-thuy'][0]}/", 2)
    all_units = await rows(db, "SELECT id, parent_id, path, depth FROM unit")
    paths = {uid: path for uid, _parent, path, _depth in all_units}
    for uid, parent_id, path, depth in all_units:
        assert path == (paths[parent_id] if parent_id else "/") + f"{uid}/"
        assert depth == path.count("/") - 2


# --- malformed files ------------------------------------------------------------------

# (id, replace this, with this, expected key path, expected message, text on the error line)
MALFORMED = [
    (
        "unknown-group",
        "{group: model_districts_2025, target: 100,",
        "{group: model_districts_2052, target: 100,",
        "tasks[typical-communes].assignments[1].group",
        "unknown group model_districts_2052",
        "{group: model_districts_2052",
    ),
    (
        "unknown-unit",
        "{units: [do-luong], deadline: 2025-09-15}",
        "{units: [do-luongg], deadline: 2025-09-15}",
        "tasks[traffic-tip-model-review].assignments[0].units[0]",
        "unknown unit do-luongg",
        "[do-luongg]",
    ),
    (
        "unknown-unit-in-group",
        "model_districts_2025: [nam-dan, nghia-dan, con-cuong]",
        "model_districts_2025: [nam-dan, nghia-dan, con-cuongg]",
        "groups.model_districts_2025[2]",
        "unknown unit con-cuongg",
        "con-cuongg",
    ),
    (
        "unknown-parent",
        "{code: mai-hung, kind: ward, parent: hoang-mai,",
        "{code: mai-hung, kind: ward, parent: hoang-maii,",
        "units[mai-hung].parent",
        "unknown unit hoang-maii",
        "hoang-maii",
    ),
    (
        "bad-date",
        "{units: [do-luong], deadline: 2025-09-15}",
        "{units: [do-luong], deadline: 2025-09-31}",
        "tasks[traffic-tip-model-review].assignments[0].deadline",
        "invalid date 2025-09-31; expected YYYY-MM-DD",
        "2025-09-31",
    ),
    (
        "bad-date-format",
        "due: 2025-03-20,",
        "due: 20/03/2025,",
        "reporting[implementation-plan].due",
        "invalid date 20/03/2025",
        "20/03/2025",
    ),
    (
        "duplicate-unit-code",
        "{code: so-noi-vu, kind: agency, parent: nghe-an, name: Sở Nội vụ}",
        "{code: so-tai-chinh, kind: agency, parent: nghe-an, name: Sở Nội vụ}",
        "units[so-tai-chinh]",
        "duplicate unit code so-tai-chinh (first at line",
        "name: Sở Nội vụ}",
    ),
    (
        "duplicate-task-code",
        "code: former-police-model-review\n",
        "code: former-police-model\n",
        "tasks[former-police-model].code",
        "duplicate task code former-police-model (first at line",
        "  - code: former-police-model\n    clause: II.2.đ (second +)\n    kind: milestone",
    ),
    (
        "wrong-unit-kind",
        "{code: hoang-mai, kind: town,",
        "{code: hoang-mai, kind: township,",
        "units[hoang-mai].kind",
        "unknown unit kind township; expected one of: province, city, town",
        "kind: township",
    ),
    (
        "unknown-task-kind",
        "code: festival-2025\n    clause: II.2.h\n    kind: milestone",
        "code: festival-2025\n    clause: II.2.h\n    kind: event",
        "tasks[festival-2025].kind",
        "unknown task kind event; expected one of: milestone, count, percent, report, recurring",
        "kind: event",
    ),
    (
        "missing-target-count",
        "{units: [cong-an-tinh], target: 7, deadline: 2025-12-31}",
        "{units: [cong-an-tinh], deadline: 2025-12-31}",
        "tasks[typical-province-level-units].assignments[0]",
        "a count task needs a numeric target",
        "{units: [cong-an-tinh], deadline: 2025-12-31}\n\n  - code: industrial-park-pilot",
    ),
    (
        "percent-over-100",
        "{units: [vinh], target: 100,",
        "{units: [vinh], target: 120,",
        "tasks[vinh-drug-free-campaign].assignments[0].target",
        "a percentage must be between 0 and 100, got 120",
        "target: 120",
    ),
    (
        "count-not-whole",
        "{units: [cong-an-tinh], target: 7,",
        "{units: [cong-an-tinh], target: 7.5,",
        "tasks[typical-province-level-units].assignments[0].target",
        "a count target must be a positive whole number, got 7.5",
        "target: 7.5",
    ),
    (
        "target-on-milestone",
        "{units: [do-luong], deadline: 2025-09-15}",
        "{units: [do-luong], target: 1, deadline: 2025-09-15}",
        "tasks[traffic-tip-model-review].assignments[0].target",
        "a milestone task takes no target",
        "target: 1, deadline: 2025-09-15",
    ),
    (
        "cycle",
        "{code: nghe-an, kind: province, name: Tỉnh Nghệ An}",
        "{code: nghe-an, kind: province, name: Tỉnh Nghệ An, parent: vinh}",
        "units[nghe-an].parent",
        "the unit tree has a cycle: nghe-an -> vinh -> nghe-an",
        "parent: vinh}",
    ),
    (
        "except-not-in-group",
        "{group: all_districts, except: [nam-dan, nghia-dan, con-cuong], target: 1,",
        "{group: all_districts, except: [nam-dan, nghia-dan, cong-an-tinh], target: 1,",
        "tasks[typical-enterprises].assignments[0].except[2]",
        "cong-an-tinh is not a member of group all_districts",
        "cong-an-tinh], target: 1,",
    ),
    (
        "units-and-group",
        "{group: parish_model_localities, deadline: 2025-12-31,",
        "{group: parish_model_localities, units: [vinh], deadline: 2025-12-31,",
        "tasks[parish-model].assignments[1]",
        "give either units or group, not both",
        "units: [vinh], deadline",
    ),
    (
        "except-without-group",
        "{units: [cong-an-tinh, bql-kkt-dong-nam], deadline: 2025-12-31,",
        "{units: [cong-an-tinh, bql-kkt-dong-nam], except: [kcn-wha], deadline: 2025-12-31,",
        "tasks[industrial-park-pilot].assignments[0].except",
        "except is only allowed with group",
        "except: [kcn-wha]",
    ),
    (
        "duplicate-after-expansion",
        "{units: [cong-an-tinh, so-dttg], deadline: 2025-07-15,",
        "{units: [vinh], deadline: 2025-07-15,",
        "tasks[parish-model].assignments[1]",
        "vinh already has this task (line",
        "{group: parish_model_localities",
    ),
    (
        "yaml-syntax",
        "  - {code: kcn-wha, kind: industrial_park, parent: nghe-an, name: Khu công nghiệp WHA}",
        "  - {code: kcn-wha, kind: industrial_park, parent: nghe-an, name: [Khu công nghiệp WHA}",
        "",
        "not valid YAML",
        "name: [Khu",
    ),
    (
        "unknown-key",
        "{group: all_districts, except: [hung-nguyen, nghi-loc], target: 1,",
        "{group: all_districts, exept: [hung-nguyen, nghi-loc], target: 1,",
        "tasks[enterprise-pilot].assignments[0].exept",
        "unknown key; expected one of: deadline, except, group, inferred, note, target, units",
        "exept:",
    ),
    (
        "unquoted-comma",
        "note: \"the province's pilot at one parish in Hưng Nguyên, led",
        "note: the province's pilot at one parish in Hưng Nguyên, led",
        "tasks[parish-model].assignments[0].led by the provincial police with the Department"
        " of Ethnic and Religious Affairs (III.1",
        "a key without a value; quote text that contains a comma",
        "pilot at one parish",
    ),
    (
        "report-wrong-kind",
        "{code: implementation-plan, kind: report,",
        "{code: implementation-plan, kind: milestone,",
        "reporting[implementation-plan].kind",
        "reporting entries must have kind report, got milestone",
        "{code: implementation-plan",
    ),
    (
        "duplicate-tip-category",
        "{code: fire, vi: Nguy cơ cháy nổ",
        "{code: drugs, vi: Nguy cơ cháy nổ",
        "tip_categories[drugs].code",
        "duplicate tip category drugs (first at line",
        "{code: drugs, vi: Nguy cơ cháy nổ",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "key_path", "message", "marker"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED],
)
async def test_malformed_plan_is_refused_and_nothing_written(
    db: Database, tmp_path: Path, old: str, new: str, key_path: str, message: str, marker: str
) -> None:
    assert PLAN_TEXT.count(old) == 1, old
    content = PLAN_TEXT.replace(old, new)
    bad = tmp_path / "bad-plan.yaml"
    bad.write_text(content, encoding="utf-8")
    line = line_of(content, marker)
    expected_start = f"{bad}:{line}: {key_path + ': ' if key_path else ''}"

    # On an empty database: refused, nothing written.
    with pytest.raises(PlanError) as first:
        await import_plan(db, bad)
    assert str(first.value).startswith(expected_start), str(first.value)
    assert message in str(first.value)
    assert "\n" not in str(first.value)
    assert set((await row_counts(db)).values()) == {0}

    # Over an imported plan: refused, every table exactly as it was.
    await import_plan(db, SHIPPED_PLAN)
    before = await dump(db)
    with pytest.raises(PlanError) as second:
        await import_plan(db, bad)
    assert second.value.issues[0] == first.value.issues[0]
    assert await dump(db) == before


async def test_every_problem_is_collected_before_refusing(tmp_path: Path) -> None:
    content = PLAN_TEXT.replace("kind: town,", "kind: township,").replace(
        "{units: [vinh], target: 100,", "{units: [vinh], target: 120,"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(PlanError) as refused:
        read_plan(bad)
    problems = refused.value.issues
    assert len(problems) == 3  # two towns, one percentage
    assert str(refused.value).endswith("(and 2 more problems)")
    assert [p.where.line for p in problems] == sorted(p.where.line or 0 for p in problems)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("- just\n- a list\n", "expected a mapping"),
        ("plan: {code: X}\n", "missing required key tasks"),
        ("\xff\xfe", "the file is not UTF-8 text"),
    ],
)
async def test_files_that_are_not_plans(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.yaml"
    if content.startswith("\xff"):
        bad.write_bytes(b"\xff\xfe\x00")
    else:
        bad.write_text(content, encoding="utf-8")
    with pytest.raises(PlanError, match=message):
        read_plan(bad)


async def test_missing_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read the file"):
        read_plan(tmp_path / "absent.yaml")
