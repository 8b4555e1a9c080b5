"""A copy of the database and the logs, without the key, does not name an anonymous reporter.

Citizens send anonymous tips at distinct times, between other people's activity;
officers ask questions that are relayed (and delivered); the reporters answer and
add information; one tip is left alone and escalates after 24 hours. Then the test
reads every row of every table, as whoever holds a dump would, and tries every
join it can: equal values, and times within five minutes of each other, between
any value of a row that refers to a tip and any value of a row that refers to an
identity. A join "singles out" a reporter when, for a tip, the only identity it
finds is the one that sent the tip. The logs at the default level must not name
a citizen at all (a name next to a time is enough to join it to a tip's log line).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.config import Settings
from db.models import Identity, Tip
from db.session import Database
from handlers.types import Message
from scheduler.housekeeping import tidy_up
from scheduler.outbox import OutboxSender
from scheduler.tips import escalate_unacknowledged
from tests.integration.tip_helpers import PHOTO, make_world, send_tip, staff
from tests.support import Clock, Person

KEY = "k" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz"  # a test key of 44 characters
CLOSE = dt.timedelta(minutes=5)
START = dt.datetime(2025, 5, 5, 1, 50, tzinfo=dt.UTC)  # 08:50 in Vinh

# Citizens: (external id, display name)
REPORTERS = {
    "a": ("tg-111", "Nguyễn Văn Báo"),
    "b": ("tg-222", "Trần Thị Tin"),
    "c": ("tg-333", "Lê Văn Kín"),
}
BYSTANDERS = [("tg-901", "Phạm Thị Xem"), ("tg-902", "Võ Văn Hỏi"), ("tg-903", "Đỗ Thị Đi")]


class Ticking(Clock):
    """The engine's clock: each update takes 20 seconds of the person's time."""

    def __call__(self) -> dt.datetime:
        now = self.now
        self.now += dt.timedelta(seconds=20)
        return now

    def at(self, hh: int, mm: int, day: int = 0) -> None:
        target = START.replace(hour=hh, minute=mm) + dt.timedelta(days=day)
        assert target >= self.now, (target, self.now)
        self.now = target


class Messenger:
    """Where the outbox sender delivers: records each chat's messages (buttons included)."""

    name = "test"

    def __init__(self) -> None:
        self.sent: dict[str, list[Message]] = defaultdict(list)

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        self.sent[chat_id].extend(messages)

    def button(self, chat_id: str, prefix: str) -> str:
        found = [c.id for m in self.sent[chat_id] for c in m.choices if c.id.startswith(prefix)]
        assert found, (chat_id, self.sent[chat_id])
        return found[-1]


# --- reading a dump -------------------------------------------------------------------


@dataclass
class Row:
    table: str
    values: list[tuple[str, Any]]  # (column or column.json.path, value)
    tips: set[int] = field(default_factory=set)
    identities: set[int] = field(default_factory=set)


def _leaves(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(f"{name}.{k}", v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(f"{name}[]", v)
    elif value is not None:
        yield name, value


TIP_KEY = re.compile(r"^tip:(\d+):")


async def read_dump(db: Database) -> list[Row]:
    """Every row of every table, with what it refers to in clear (as a reader would see)."""
    rows: list[Row] = []
    async with db.sessions() as s:
        tables = (
            await s.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
                    "AND table_name <> 'alembic_version' ORDER BY table_name"
                )
            )
        ).scalars()
        raw = {t: (await s.execute(text(f'SELECT * FROM "{t}"'))).mappings().all() for t in tables}
    citizens = {
        value: ident["id"]
        for ident in raw["identity"]
        for value in (ident["external_id"], ident["chat_id"])
    }
    for table, found in raw.items():
        for mapping in found:
            values: list[tuple[str, Any]] = []
            for column, value in mapping.items():
                if isinstance(value, str) and value[:1] in "[{":
                    try:
                        value = json.loads(value)
                    except ValueError:
                        pass
                if isinstance(value, memoryview):
                    value = bytes(value)
                values.extend(_leaves(column, value))
            row = Row(table, values)
            if table == "tip":
                row.tips.add(mapping["id"])
            if table == "identity":
                row.identities.add(mapping["id"])
            for column, value in mapping.items():
                if value is None:
                    continue
                if column in {"tip_id", "duplicate_of_id"}:
                    row.tips.add(int(value))
                if column == "identity_id":
                    row.identities.add(int(value))
            if table == "attachment" and mapping["owner_kind"] == "tip":
                row.tips.add(mapping["owner_id"])
            if table == "audit" and mapping["object_kind"] == "tip":
                row.tips.add(int(mapping["object_id"]))
            for _col, value in values:
                if isinstance(value, str):
                    if (m := TIP_KEY.match(value)) is not None:
                        row.tips.add(int(m.group(1)))
                    if table != "identity" and value in citizens:
                        row.identities.add(citizens[value])
            rows.append(row)
    return rows


def _match(a: Any, b: Any) -> str | None:
    """How two values join: "time", "text", "bytes", "int", or None."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return "time" if abs(a - b) <= CLOSE else None
    if isinstance(a, str) and isinstance(b, str):
        if len(a) >= 3 and a == b:
            return "text"
        short, long_ = sorted((a, b), key=len)
        return "text" if len(short) >= 12 and short in long_ else None
    if isinstance(a, bytes) and isinstance(b, bytes):
        return "bytes" if a == b else None
    if isinstance(a, int) and isinstance(b, int):
        return "int" if a == b else None
    return None


def joins(rows: list[Row], reporters: dict[int, int]) -> list[str]:
    """Every join rule that singles out the reporter of an anonymous tip.

    A rule is (table.column on the tip's side, table.column on the identity's side,
    how they match). For each tip, the identities a rule finds are those with a
    matching value; the reporter is singled out when they are the only one. Integer
    equality can single someone out by coincidence (row 7 of one table, identity 7),
    so it counts only when the same rule singles out the reporters of two tips.
    """
    found: dict[int, dict[tuple[str, str, str], set[int]]] = {
        t: defaultdict(set) for t in reporters
    }
    identity_rows = [r for r in rows if r.identities]
    for row in rows:
        for tip_id in row.tips & set(reporters):
            for ident in row.identities:  # one row names both
                found[tip_id][(row.table, row.table, "row")].add(ident)
            for other in identity_rows:
                for col_t, a in row.values:
                    for col_i, b in other.values:
                        how = _match(a, b)
                        if how is not None:
                            rule = (f"{row.table}.{col_t}", f"{other.table}.{col_i}", how)
                            found[tip_id][rule].update(other.identities)
    leaks: list[str] = []
    by_rule: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for tip_id, rules in found.items():
        for rule, idents in rules.items():
            if idents == {reporters[tip_id]}:
                by_rule[rule].append(tip_id)
    for rule, tip_ids in sorted(by_rule.items()):
        if rule[2] != "int" or len(tip_ids) >= 2:
            leaks.append(f"{rule[0]} ~ {rule[1]} ({rule[2]}) names the reporter of tips {tip_ids}")
    return leaks


# --- the story ------------------------------------------------------------------------


async def test_a_dump_and_the_logs_do_not_name_anonymous_reporters(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await make_world(db)
    clock = Ticking(START)
    settings = Settings(secret_key=KEY)  # type: ignore[arg-type]
    from handlers.engine import Engine

    engine = Engine(db, settings, clock=clock)
    messenger = Messenger()
    # The sender runs on the real clock, like PostgreSQL's now(): rows the database
    # dated itself are due. (Quiet hours off: the test may run at night.)
    fast = {"bot_rate_per_second": 1e3, "chat_rate_per_second": 1e3, "quiet_end": dt.time(21)}
    sender = OutboxSender(db, settings.model_copy(update=fast), {"test": messenger})
    rep = {k: Person(engine, uid, name=n, language_code="en") for k, (uid, n) in REPORTERS.items()}
    by = [Person(engine, uid, name=n, language_code="en") for uid, n in BYSTANDERS]
    officer, officer_bt = staff(engine, "o-nh"), staff(engine, "o-bt")

    clock.at(2, 0)
    await by[0].say("/start")
    await by[0].say("/help")
    clock.at(2, 4)
    await by[1].press("m:tip")  # starts a tip and gives up
    await by[1].press("tip:cat:fire")
    await by[1].say("/cancel")
    clock.at(2, 13)
    code_a = await send_tip(rep["a"], text="Drugs are sold at the bus stop every night.")
    clock.at(2, 16)
    await by[2].say("/status 1111-2222-3333-4444")  # a wrong code
    clock.at(3, 41)
    code_b = await send_tip(
        rep["b"], category="crime", text="Stolen motorbikes in a yard.", media=[PHOTO]
    )
    clock.at(3, 44)
    await by[0].press("m:tip")
    await by[0].say("/cancel")
    clock.at(4, 20)
    await officer.say("/tips")
    tips = await _tip_ids(db)
    tip_a, tip_b = tips[0], tips[1]
    await officer.press(f"tr:ack:{tip_a}")
    await officer.press(f"tr:ask:{tip_a}")
    await officer.say("Which bus stop, and at what time?")
    await officer.press(f"tr:ack:{tip_b}")
    await officer.press(f"tr:ask:{tip_b}")
    await officer.say("Which street is the yard on?")
    # A dump taken now, while the questions wait in the outbox for their reporters.
    pending = {tip_a: await _identity(db, "tg-111"), tip_b: await _identity(db, "tg-222")}
    leaks = joins(await read_dump(db), pending)
    assert not leaks, "with questions waiting, the dump joins:\n" + "\n".join(leaks)
    clock.at(4, 25)
    await sender.drain_once()
    clock.at(4, 40)
    await rep["a"].press(messenger.button("tg-111", "tpa:a:"))
    await rep["a"].say("The one near the market, after 22:00.")
    clock.at(4, 55)
    await by[1].say("/start")
    clock.at(5, 7)
    code_c = await send_tip(rep["c"], category="traffic", text="Racing at night.", place="ben thuy")
    clock.at(5, 25)
    await by[2].say("/help")
    clock.at(5, 30)
    await rep["b"].press(messenger.button("tg-222", "tpa:a:"))
    await rep["b"].say("Lê Lợi street, the yard with the blue gate.")
    clock.at(6, 10)
    await rep["b"].say(f"/status {code_b}")
    await rep["b"].press(next(c for c in rep["b"].choices if c.startswith("tpa:i:")))
    await rep["b"].say("There were three of them.")
    clock.at(6, 30)
    await officer.press(f"tr:out:{tip_a}:handled")
    await officer.say("Thank you, it was dealt with.")
    clock.at(6, 33)
    await sender.drain_once()
    clock.at(6, 50)
    await rep["a"].say(f"/status {code_a}")
    await officer_bt.say("/help")  # tip C is left unacknowledged
    assert code_c

    async with db.sessions() as s:
        ids = {i.external_id: i.id for i in (await s.execute(select(Identity))).scalars().all()}
    tips = await _tip_ids(db)
    reporters = {tip_id: ids[REPORTERS[k][0]] for tip_id, k in zip(tips, "abc", strict=True)}

    dump = await read_dump(db)
    # Every time on a citizen's rows was written by the application's clock, which
    # this test drives: a time the database wrote itself (its own now()) would be
    # out of the story's days, and the checks below blind to it.
    story = (START.replace(hour=0, minute=0), START + dt.timedelta(days=2))
    citizen_ids = {ids[u] for u, _n in [*REPORTERS.values(), *BYSTANDERS]}
    for row in dump:
        if row.identities & citizen_ids:
            for column, value in row.values:
                if isinstance(value, dt.datetime):
                    assert story[0] <= value <= story[1], (row.table, column, value)
    leaks = joins(dump, reporters)
    assert not leaks, "the day's dump joins reporters to tips:\n" + "\n".join(leaks)

    # Timers that need exact times still work: tip C escalates after 24 hours.
    clock.at(5, 5, day=1)  # tip C came at 05:07 + a few updates
    assert await escalate_unacknowledged(db, settings, clock.now) == 0
    clock.at(5, 20, day=1)
    assert await escalate_unacknowledged(db, settings, clock.now) == 1
    async with db.sessions() as s:
        assert (await s.get(Tip, tips[2])).escalation_level == 1  # type: ignore[union-attr]

    await tidy_up(db, settings, clock.now)
    leaks = joins(await read_dump(db), reporters)
    assert not leaks, "after housekeeping, the dump joins reporters to tips:\n" + "\n".join(leaks)

    citizens = [*REPORTERS.values(), *BYSTANDERS]
    named = [f"identity {ids[u]}" for u, _n in citizens] + [s for pair in citizens for s in pair]
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        message = record.getMessage()
        for secret in named:
            assert secret not in message, f"the log names a citizen: {message}"


async def _identity(db: Database, external_id: str) -> int:
    async with db.sessions() as s:
        found = await s.scalar(select(Identity.id).where(Identity.external_id == external_id))
    assert found is not None
    return found


async def _tip_ids(db: Database) -> list[int]:
    async with db.sessions() as s:
        return list((await s.execute(select(Tip.id).order_by(Tip.id))).scalars().all())
