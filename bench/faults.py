"""Faults, measured: a database outage, kill -9 of the sender, several processes on one database.

Real ``antt run`` / ``antt scheduler`` processes, a PostgreSQL of its own that is
stopped and started (``tests/faulty_pg.py``), and the fake Bot API
(``tests/fakes/telegram_api.py``), which records every call with its arrival time.

1. **outage**: ``antt run`` polling (with the scheduler) and ``antt run --webhook``,
   each on its own fake Bot API. The database stops; during the outage ``people``
   people send ``/help`` to each bot (the webhook's updates are posted again after
   any non-2xx answer, as Telegram does); the database comes back after
   ``outage`` seconds. Each person must get exactly one answer. Proactive rows
   that fell due during the outage give ``sender_recovered_s`` (database back ->
   first proactive message).
2. **kill -9**: ``trials`` times, ``rows`` outbox rows (half of two messages) to
   distinct chats, a leader sender and a standby (``antt scheduler``); the leader
   is killed with -9 after a random number of messages, the standby goes on, a
   fresh standby is started. Every message must arrive; a duplicate is a message
   that arrived twice. The requests in flight at a kill are the messages the
   killed sender had requested whose rows did not record them yet (read from the
   fake and the database right after the kill, before the standby sends);
   ``kill9_inflight_max`` is the largest of these, and each trial's duplicates
   must not exceed its own. (``kill9_fake_unanswered_by_trial``: requests the fake
   had not answered yet at the kill.) ``failover_s``: kill -> the next message,
   by the other process.
3. **limits**: ``antt run`` and two ``antt scheduler`` sending together to
   ``chats`` chats (some get several messages) and ``groups`` groups (more than 20
   messages each, so the 60 s window is tested); half way the sending leader is
   killed with -9 and another takes over. Arrival times at the fake give the
   largest count in any sliding 1 s window, in any 60 s window per group, and
   the smallest gap between two messages to one chat.

``python -m bench.faults [--quick]``; the last line is one JSON object with the
figures and their targets. ``--quick`` runs small versions (a minute or two).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret-of-at-least-32-chars"  # antt run wants 32+
KEY = secrets.token_hex(32)  # ANTT_SECRET_KEY of the processes this run starts
PUBLIC_URL = "https://bench.example.test/telegram/webhook"
HELP = "how to use it"  # in the answer to /help (English)
BUSY = "The system is busy"
SENDING = "now sending for telegram"

TARGETS = {
    "outage_updates_lost": "== 0",
    "outage_updates_doubled": "== 0",
    "sender_recovered_s": "<= 10",
    "kill9_lost": "== 0",
    "kill9_duplicates": "<= requests in flight at each kill",
    "max_msgs_any_1s_window": "<= 30",
    "max_group_msgs_any_60s_window": "<= 20",
    "min_same_chat_gap_s": ">= 1.0",
    "failover_s": "<= 15",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- processes --------------------------------------------------------------------------


@dataclass
class Proc:
    """An ``antt`` process; its log goes to a file (read for "now sending")."""

    name: str
    process: asyncio.subprocess.Process
    log: Path
    port: int | None = None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def leading(self) -> bool:
        return SENDING in self.log_text()

    def kill9(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


@dataclass
class World:
    """The database, the fakes, the processes of one bench run."""

    pg: Any
    db: Any
    workdir: Path
    procs: list[Proc] = field(default_factory=list)
    counter: int = 0

    def env(self, api: Any, **extra: str) -> dict[str, str]:
        from tests.fakes.telegram_api import DEFAULT_TOKEN

        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
        env.update(
            ANTT_SECRET_KEY=KEY,
            ANTT_DATABASE_URL=self.pg.url,
            ANTT_TELEGRAM_TOKEN=DEFAULT_TOKEN,
            ANTT_TELEGRAM_API_URL=api.root_url,
            ANTT_TELEGRAM_WEBHOOK_SECRET=SECRET,
            ANTT_DATA_DIR=str(self.workdir / "data"),
            ANTT_QUIET_START="00:00",  # no quiet hours, whatever the time of day
            ANTT_QUIET_END="00:00",
            ANTT_DEFAULT_LANGUAGE="en",
            LANG="C.UTF-8",
        )
        env.update(extra)
        return env

    async def spawn(self, api: Any, *args: str, **extra: str) -> Proc:
        self.counter += 1
        name = f"{args[0]}-{self.counter}"
        log = self.workdir / f"{name}.log"
        port = free_port()
        env = self.env(api, ANTT_WEB_PORT=str(port), **extra)
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *args,
                cwd=str(ROOT),
                env=env,
                stdout=sink,
                stderr=sink,
            )
        proc = Proc(name, process, log, port if args[0] == "run" else None)
        self.procs.append(proc)
        return proc

    async def stop_all(self) -> None:
        for proc in self.procs:
            await proc.stop()
        self.procs.clear()


async def wait_healthy(proc: Proc, within: float = 60) -> None:
    assert proc.port is not None
    url = f"http://127.0.0.1:{proc.port}/healthz"
    async with asyncio.timeout(within), aiohttp.ClientSession() as http:
        while True:
            if proc.process.returncode is not None:
                raise RuntimeError(f"{proc.name} exited: {proc.log_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)


async def wait_until(check: Any, within: float, step: float = 0.05) -> float:
    """Seconds until ``check()`` was true; TimeoutError after ``within``."""
    start = time.monotonic()
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 (what is checked lives in other processes)
            await asyncio.sleep(step)
    return time.monotonic() - start


# --- the database -----------------------------------------------------------------------


async def reset(db: Any) -> None:
    from db.models import Base

    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    await db.engine.dispose()  # pooled connections may have died with an outage before
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


async def queue_rows(
    db: Any, chats: Iterable[tuple[str, list[list[str]]]], *, due_in: float = 0.0
) -> int:
    """Outbox rows: for each chat, rows of one or more texts; how many messages in all."""
    from db.models import Identity, Outbox

    now = await db_now(db)
    due = now + _seconds(due_in)
    identities: list[dict[str, Any]] = []
    rows: list[tuple[str, list[str]]] = []
    for chat, chat_rows in chats:
        identities.append(
            {"channel": "telegram", "external_id": chat, "chat_id": chat, "language": "en"}
        )
        rows.extend((chat, texts) for texts in chat_rows)
    async with db.engine.begin() as conn:
        ids = dict(
            (
                await conn.execute(
                    insert(Identity).returning(Identity.chat_id, Identity.id), identities
                )
            ).all()
        )
        values = [
            {
                "identity_id": ids[chat],
                "dedup_key": f"bench:{chat}:{i}:{time.time_ns()}",
                "payload": {"messages": [{"text": t} for t in texts]},
                "urgent": False,
                "not_before": due,
            }
            for i, (chat, texts) in enumerate(rows)
        ]
        for start in range(0, len(values), 1000):
            await conn.execute(insert(Outbox), values[start : start + 1000])
    return sum(len(texts) for _, texts in rows)


def _seconds(value: float) -> Any:
    import datetime as dt

    return dt.timedelta(seconds=value)


async def db_now(db: Any) -> Any:
    async with db.engine.connect() as conn:
        return (await conn.execute(text("SELECT now()"))).scalar_one()


@contextlib.asynccontextmanager
async def world(workdir: Path | None = None, *, pg: Any = None) -> AsyncIterator[World]:
    """A bench run's world: ``pg`` (a ``FaultyPostgres``) or one of its own under ``workdir``."""
    from tests.faulty_pg import FaultyPostgres

    base = workdir or Path(tempfile.mkdtemp(prefix="antt-faults-"))
    own = pg is None
    if own:
        pg = FaultyPostgres(base / "pg")
    db = await pg.migrated()
    w = World(pg, db, base)
    try:
        yield w
    finally:
        await w.stop_all()
        await db.dispose()
        if own:
            with contextlib.suppress(Exception):
                await pg.stop()
            pg.close()
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)


def fake_api(**kwargs: Any) -> Any:
    from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI

    return FakeTelegramAPI(token=DEFAULT_TOKEN, allow_http_webhook=True, **kwargs)


def sends(api: Any) -> list[Any]:
    return [c for c in api.calls if c.method == "sendMessage"]


# --- 1. outage --------------------------------------------------------------------------


async def outage(w: World, *, people: int, outage_s: float, proactive: int = 5) -> dict[str, Any]:
    await reset(w.db)
    async with fake_api(long_poll_cap=1.0) as polled, fake_api() as hooked:
        hooked._next_update_id = 500_000_001  # one database: the two bots' ids must differ
        poller = await w.spawn(polled, "run", ANTT_UPDATE_RETRY_MAX_SECONDS="2")
        hook = await w.spawn(
            hooked,
            "run",
            "--no-scheduler",
            "--webhook",
            PUBLIC_URL,
            ANTT_WEBHOOK_HOLD_SECONDS="2",
        )
        await wait_healthy(poller)
        await wait_healthy(hook)
        assert hook.port is not None
        hook_url = f"http://127.0.0.1:{hook.port}/telegram/webhook"
        # proactive messages that fall due in the middle of the outage
        await queue_rows(
            w.db,
            [(str(900_000 + i), [[f"proactive {i}"]]) for i in range(proactive)],
            due_in=outage_s / 2 + 1,
        )
        await asyncio.sleep(0.5)
        await w.pg.stop()
        down_at = time.monotonic()
        healthz_down = await _health(poller)
        posts: Counter[int] = Counter()

        async def telegram_redelivers(update: dict[str, Any]) -> None:
            delay = 1.0
            while True:
                posts[update["update_id"]] += 1
                status = await hooked.post_webhook(hook_url, update, SECRET)
                if status == 200:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 8.0)

        users = [100_000 + i for i in range(people)]
        redeliveries = []
        gap = max(0.0, (outage_s - 4) / max(1, people))
        for user in users:
            polled.user_message(user, "/help", language_code="en")
            update = hooked.user_message(user, "/help", language_code="en", push=False)
            redeliveries.append(asyncio.create_task(telegram_redelivers(update)))
            await asyncio.sleep(gap)
        await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - down_at)))
        await w.pg.start()
        mark = polled.calls[-1].seq if polled.calls else 0
        proactive_chats = {str(900_000 + i) for i in range(proactive)}

        def first_proactive() -> bool:
            return any(c.seq > mark and str(c.chat_id) in proactive_chats for c in sends(polled))

        recovered = await wait_until(first_proactive, 60)
        await asyncio.wait_for(asyncio.gather(*redeliveries), 120)

        def everyone_answered() -> bool:
            answered = {c.chat_id for c in sends(polled) if HELP in (c.plain_text or "")}
            return len(answered) >= people

        with contextlib.suppress(TimeoutError):
            await wait_until(everyone_answered, 60)
        # Each loop retries on its own backoff (jobs up to 10 s apart): /healthz is 200
        # again once the last of them has run once after the outage.
        healthz_up = await _health(poller)
        deadline = time.monotonic() + 20
        while healthz_up != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            healthz_up = await _health(poller)
        lost = doubled = 0
        for api in (polled, hooked):
            answers = Counter(c.chat_id for c in sends(api) if HELP in (c.plain_text or ""))
            lost += sum(1 for u in users if answers[u] == 0)
            doubled += sum(1 for u in users if answers[u] > 1)
        busy = sum(
            1 for api in (polled, hooked) for c in sends(api) if BUSY in (c.plain_text or "")
        )
        await w.stop_all()
    return {
        "outage_updates_sent": 2 * people,
        "outage_updates_lost": lost,
        "outage_updates_doubled": doubled,
        "sender_recovered_s": round(recovered, 2),
        "outage_s": outage_s,
        "outage_busy_notices": busy,
        "outage_webhook_posts": sum(posts.values()),
        "healthz_during_outage": healthz_down,
        "healthz_after": healthz_up,
    }


async def _health(proc: Proc) -> int:
    url = f"http://127.0.0.1:{proc.port}/healthz"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status


# --- 2. kill -9 -------------------------------------------------------------------------


async def kill9(w: World, *, trials: int, rows: int, rate: float, latency: float) -> dict[str, Any]:
    await reset(w.db)
    extra = {
        "ANTT_BOT_RATE_PER_SECOND": str(rate),
        "ANTT_OUTBOX_STANDBY_SECONDS": "1",
        "ANTT_OUTBOX_LEASE_SECONDS": "60",
    }
    lost_total = duplicates_total = 0
    inflight: list[int] = []
    fake_inflight: list[int] = []
    duplicates: list[int] = []
    failovers: list[float] = []
    over = 0
    async with fake_api(latency=latency) as api:
        procs = [await w.spawn(api, "scheduler", **extra) for _ in range(2)]
        for trial in range(trials):
            base = 1_000_000 * (trial + 1)
            plan = [
                (
                    str(base + i),
                    [[f"t{trial} c{i} a", f"t{trial} c{i} b"]] if i % 2 else [[f"t{trial} c{i}"]],
                )
                for i in range(rows)
            ]
            expected = Counter(t for _, chat_rows in plan for texts in chat_rows for t in texts)
            first_seq = api.calls[-1].seq if api.calls else 0
            await queue_rows(w.db, plan)
            kill_after = random.randint(len(expected) // 8, len(expected) * 3 // 4)

            def sent_in_trial(first_seq: int = first_seq) -> list[Any]:
                return [c for c in sends(api) if c.seq > first_seq]

            base_count = api.method_counts["sendMessage"]
            await wait_until(
                lambda base=base_count, n=kill_after: api.method_counts["sendMessage"] - base >= n,
                120,
                step=0.005,
            )
            leader = next((p for p in procs if p.leading and p.process.returncode is None), None)
            if leader is None:
                raise RuntimeError("no leader found")
            at_kill = api.in_flight
            killed_at = time.monotonic()
            leader.kill9()
            await leader.process.wait()
            mark = api.calls[-1].seq if api.calls else 0
            unrecorded = await sent_not_recorded(w.db, api, first_seq)
            # the fake finishes what it had received; the next send after those is the standby's
            with contextlib.suppress(TimeoutError):
                await wait_until(
                    lambda after=mark + at_kill: any(c.seq > after for c in sends(api)),
                    60,
                    step=0.005,
                )
                failovers.append(time.monotonic() - killed_at)
            procs = [p for p in procs if p is not leader]
            procs.append(await w.spawn(api, "scheduler", **extra))

            def all_delivered(expected: Counter[str] = expected) -> bool:
                got = Counter(c.plain_text for c in sent_in_trial())
                return all(got[t] >= n for t, n in expected.items())

            with contextlib.suppress(TimeoutError):
                await wait_until(all_delivered, 180, step=0.05)
            await asyncio.sleep(0.5)
            got = Counter(c.plain_text for c in sent_in_trial())
            if os.environ.get("BENCH_DEBUG"):
                for t, n in got.items():
                    if n > 1:
                        stamps = [
                            round(c.timestamp - killed_at, 3)
                            for c in sent_in_trial()
                            if c.plain_text == t
                        ]
                        print("DUP", t, stamps, file=sys.stderr)
            lost = sum(max(0, n - got[t]) for t, n in expected.items())
            dup = sum(max(0, got[t] - n) for t, n in expected.items())
            lost_total += lost
            duplicates_total += dup
            fake_inflight.append(at_kill)
            inflight.append(unrecorded)
            duplicates.append(dup)
            over += dup > unrecorded
        await w.stop_all()
    return {
        "kill9_trials": trials,
        "kill9_lost": lost_total,
        "kill9_duplicates": duplicates_total,
        "kill9_inflight_max": max(inflight, default=0),
        "kill9_duplicates_by_trial": duplicates,
        "kill9_inflight_by_trial": inflight,
        "kill9_fake_unanswered_by_trial": fake_inflight,
        "kill9_trials_over_inflight": over,
        "kill9_rows_per_trial": rows,
        "kill9_failover_median_s": round(statistics.median(failovers), 2) if failovers else None,
        "kill9_failover_max_s": round(max(failovers), 2) if failovers else None,
    }


async def sent_not_recorded(db: Any, api: Any, since_seq: int) -> int:
    """Messages of the dead sender that went out (at the fake) while their rows do not say so.

    Read within a moment of the kill: a standby waits a second after taking over
    before it sends, and changes neither payloads nor statuses before that.
    """
    await asyncio.sleep(0.2)  # the fake answers what it had received
    got = Counter(c.plain_text for c in sends(api) if c.seq > since_seq)
    async with db.engine.connect() as conn:
        payloads = (
            await conn.execute(text("SELECT payload FROM outbox WHERE status = 'pending'"))
        ).scalars()
        unrecorded = 0
        for payload in payloads:
            messages = payload.get("messages", [])
            left = messages[int(payload.get("delivered", 0)) :]
            unrecorded += sum(1 for m in left if got[m.get("text")] > 0)
    return unrecorded


# --- 3. several processes ---------------------------------------------------------------


def window_max(times: list[float], width: float) -> int:
    """The most arrivals in any half-open window [t, t + width)."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - width:
            start += 1
        best = max(best, end - start + 1)
    return best


async def limits(
    w: World,
    *,
    chats: int,
    repeat_chats: int,
    groups: int,
    group_msgs: int,
    kill_after_s: float,
    schedulers: int = 2,
    rate: float = 30.0,
) -> dict[str, Any]:
    await reset(w.db)
    extra = {"ANTT_OUTBOX_STANDBY_SECONDS": "2", "ANTT_BOT_RATE_PER_SECOND": str(rate)}
    async with fake_api(latency=0.02) as api:
        runner = await w.spawn(api, "run", **extra)
        procs = [runner] + [await w.spawn(api, "scheduler", **extra) for _ in range(schedulers)]
        await wait_healthy(runner)
        await asyncio.sleep(2.0)  # the schedulers are up too
        plan: list[tuple[str, list[list[str]]]] = []
        for i in range(chats):
            n = 3 if i < repeat_chats else 1
            plan.append((str(2_000_000 + i), [[f"c{i} m{k}"] for k in range(n)]))
        for g in range(groups):
            plan.append((str(-100_000_000 - g), [[f"g{g} m{k}"] for k in range(group_msgs)]))
        expected = await queue_rows(w.db, plan)
        started = time.monotonic()
        await asyncio.sleep(kill_after_s)
        leader = next((p for p in procs if p.leading and p.process.returncode is None), None)
        failover = None
        if leader is not None:
            leader.kill9()
            await leader.process.wait()
            killed_at = time.monotonic()
            mark = api.calls[-1].seq if api.calls else 0
            with contextlib.suppress(TimeoutError):
                await wait_until(lambda: any(c.seq > mark for c in sends(api)), 60, step=0.005)
                failover = time.monotonic() - killed_at
        with contextlib.suppress(TimeoutError):
            await wait_until(lambda: len(sends(api)) >= expected, 300, step=0.1)
        elapsed = time.monotonic() - started
        calls = sends(api)
        by_chat: dict[str, list[float]] = defaultdict(list)
        for c in calls:
            by_chat[str(c.chat_id)].append(c.timestamp)
        gaps = [
            b - a
            for times in map(sorted, by_chat.values())
            for a, b in zip(times, times[1:], strict=False)
        ]
        group_windows = [
            window_max(times, 60.0) for chat, times in by_chat.items() if chat.startswith("-")
        ]
        group_gaps = [
            b - a
            for chat, times in by_chat.items()
            if chat.startswith("-")
            for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
        ]
        await w.stop_all()
    return {
        "processes": 1 + schedulers,
        "limits_messages": len(calls),
        "limits_expected": expected,
        "limits_elapsed_s": round(elapsed, 1),
        "max_msgs_any_1s_window": window_max([c.timestamp for c in calls], 1.0),
        "max_group_msgs_any_60s_window": max(group_windows, default=0),
        "min_same_chat_gap_s": round(min(gaps), 3) if gaps else None,
        "limits_failover_s": round(failover, 2) if failover is not None else None,
        "min_group_gap_s": round(min(group_gaps), 3) if group_gaps else None,
    }


# --- main -------------------------------------------------------------------------------


async def main(quick: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with world() as w:
        if quick:
            figures.update(await outage(w, people=5, outage_s=6))
            figures.update(await kill9(w, trials=2, rows=100, rate=200, latency=0.02))
            figures.update(
                await limits(w, chats=60, repeat_chats=10, groups=1, group_msgs=6, kill_after_s=2)
            )
        else:
            figures.update(await outage(w, people=50, outage_s=30))
            figures.update(await kill9(w, trials=10, rows=400, rate=200, latency=0.02))
            figures.update(
                await limits(
                    w, chats=600, repeat_chats=100, groups=3, group_msgs=24, kill_after_s=10
                )
            )
    failovers = [
        f for f in (figures.get("kill9_failover_max_s"), figures.get("limits_failover_s")) if f
    ]
    figures["failover_s"] = max(failovers) if failovers else None
    figures["targets"] = TARGETS
    return figures


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small versions of each scenario")
    args = parser.parse_args()
    figures = asyncio.run(main(args.quick))
    for key, value in figures.items():
        if key != "targets":
            print(f"{key}: {value}", file=sys.stderr)
    print(json.dumps(figures, sort_keys=False))


if __name__ == "__main__":
    cli()
