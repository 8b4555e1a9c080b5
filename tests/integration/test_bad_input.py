"""Out-of-range input gets the ordinary answer, never "Sorry, something went wrong":
callback ids beyond PostgreSQL's bigint (answered as an unknown id) and days no
timestamp can hold (answered as any bad day)."""

from __future__ import annotations

import datetime as dt

import pytest

from db.session import Database
from handlers.engine import bounded_ids
from handlers.export import day_bounds, parse_day
from handlers.types import Incoming
from tests.integration.digest_helpers import NOW, make_dataset
from tests.integration.tip_helpers import make_engine, staff
from tests.support import Clock

HUGE = "99999999999999999999999"  # > 2**63 - 1
UNKNOWN = "987654321"  # fits a bigint, no such row
WRONG = "Sorry, something went wrong"


@pytest.mark.parametrize(
    "template",
    ["ck:a:{}", "ck:n:{}", "ck:c:{}", "pg:u:{}", "ex:u:{}", "tr:o:{}", "rm:s:{}"],
)
async def test_an_id_beyond_bigint_is_an_unknown_id(db: Database, template: str) -> None:
    await make_dataset(db)
    engine = make_engine(db, Clock(NOW))
    supervisor = staff(engine, "s-vinh")
    await supervisor.say("/start")
    await supervisor.press(template.format(UNKNOWN))
    unknown = supervisor.text
    await supervisor.press(template.format(HUGE))
    assert WRONG not in supervisor.text
    assert supervisor.text == unknown


async def test_days_out_of_range_are_invalid_days(db: Database) -> None:
    await make_dataset(db)
    supervisor = staff(make_engine(db, Clock(NOW)), "s-vinh")
    for bad, beyond in (
        ("32/01/2025 33/01/2025", "01/01/0001 31/12/9999"),
        ("vinh 32/01/2025 33/01/2025", "vinh 01/01/0001 31/12/9999"),
        ("vinh 32/01/2025", "vinh 31/12/9999"),
    ):
        await supervisor.say(f"/export {bad}")
        invalid = supervisor.text
        await supervisor.say(f"/export {beyond}")
        assert WRONG not in supervisor.text
        assert supervisor.text == invalid


def test_parse_day_bounds() -> None:
    assert parse_day("01/01/1900") == dt.date(1900, 1, 1)
    assert parse_day("31/12/2999") == dt.date(2999, 12, 31)
    for text in ("01/01/0001", "31/12/1899", "01/01/3000", "31/12/9999"):
        with pytest.raises(ValueError):
            parse_day(text)
    # the widest accepted range has bounds in UTC
    start, end = day_bounds(dt.date(1900, 1, 1), dt.date(2999, 12, 31))
    assert start.date() == dt.date(1899, 12, 31)  # local midnight was 7 h ahead or so
    assert end == dt.datetime(2999, 12, 31, 17, 0, tzinfo=dt.UTC)


def test_bounded_ids_only_touches_numbers_beyond_bigint() -> None:
    def choice(value: str) -> str | None:
        inp = Incoming(channel="t", user_id="1", chat_id="1", update_id="1", choice=value)
        return bounded_ids(inp).choice

    assert choice("ck:a:9223372036854775807") == "ck:a:9223372036854775807"
    assert choice("ck:a:9223372036854775808") == "ck:a:0"
    assert choice(f"pg:u:{HUGE}:{HUGE}") == "pg:u:0:0"
    assert choice("m:tasks") == "m:tasks"
