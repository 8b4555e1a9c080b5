"""Benchmark: our bot (``antt run``) against a bare python-telegram-bot echo bot.

Both bots run as separate processes polling a ``FakeTelegramAPI`` over HTTP on
127.0.0.1; ours uses a real PostgreSQL (an embedded server under
``.antt-bench/``). Simulated people join by invite deep link, then go round the
menu (choose a language from the menu, /me, /lang, /start, /menu). A step is
answered when the fake receives the ``sendMessage`` that carries the reply's
keyboard; the bare bot answers every input with one such message.

- throughput: 20 people acting back to back, updates answered per second;
  target ours / bare >= 0.5;
- latency: 500 people, each acting after a random pause averaging 10 s (about
  50 updates a second), for 60 s; p50/p95/p99 from pushing the update into the
  fake to the fake receiving the reply; target p99 <= 100 ms for ours;
- memory: the bot process's peak RSS (VmHWM) in the latency runs.

Issue 17's keys, each a ratio to the bare bot in the same run: ``p99_ratio_vs_bare``
(target <= 3) and ``p95_ratio_vs_bare`` (<= 2), the medians of the ratios of
neighbouring latency rounds (bare and ours alternate, ``LATENCY_ROUNDS`` each);
``cpu_ratio_vs_bare_aiohttp`` (<= 2), bot CPU per update against the bare bot on
our transport, the median over the throughput rounds; ``peak_rss_mb`` (<= 90).

    .venv/bin/python -m bench.telegram_engine            # about 4 minutes
    .venv/bin/python -m bench.telegram_engine --quick    # about 1 minute (or ANTT_BENCH_QUICK=1)
    .venv/bin/python -m bench.telegram_engine --scaleout # only the scale-out run (webhooks)

The scale-out run (issue 17, after the rest unless ``--no-scaleout``): the latency run
against one ``antt run --webhook`` process at 500 people, then against two on the same
database at 1,000 (``scaleout_p99_ratio`` = p99 of two / p99 of one, target <= 1.5);
see the section "scale-out" below.

The last line printed is a JSON object with the figures and the targets. The
throughput runs alternate between the bots (two rounds each). There are three
floors: the bare bot on PTB's httpx transport tuned like ours ("bare", the
target's), on PTB's defaults ("bare-defaults"), and on our aiohttp transport
("bare-aiohttp": ours minus the engine). The load average is printed because the
machine may be shared, and it moves every figure. ``ANTT_BENCH_PROFILE=<folder>``
runs the bots under cProfile; py-spy (``py-spy record -r 200 -f raw -p PID``,
pip-installed beside the project) gives a truer picture of where CPU goes.

What mattered (2 vCPUs; the bot is CPU-bound in the throughput run):

- The HTTP client. Sending through httpx/httpcore cost about 1.3 ms of CPU per
  Bot API call against about 0.1 ms through aiohttp; our bot now brings its own
  PTB transport on aiohttp (bot/channels/telegram/transport.py): 5.4 -> 4.0 ms of
  CPU per update, and the bare bot on it needs 0.9 ms against 2.6-3.0 on httpx.
- The engine's SQL. Per update it ran nine or ten statements through the ORM (about
  5 ms of CPU with the commit); now one statement opens the update (identity
  upsert, conversation lock, update id, member and grants; built once and cached,
  as building it cost more than running it), and the conversation's time stamps
  ride in it, so a menu tap is BEGIN, that statement, COMMIT: about 1.5-2 ms.
- For the httpx floors: httpcore looks at every idle pooled connection on each
  request, so PTB's pool of 256 with httpx's 20 idle connections costs the bare bot
  more than 16 connections of which 8 stay idle; without ``sniffio`` installed,
  httpcore tries (and fails) to import it for every lock it makes.
- ``poll_interval=0`` and long polling; 256 updates at once, one person's in order.
- The tail (issue 17, py-spy on the bot in the latency run): a quarter of the
  samples were the bot writing to a socket, three in four of them to PostgreSQL,
  a third of those for ``pool_pre_ping`` (BEGIN, a ping, ROLLBACK on every
  checkout: three of an update's seven round trips). Each round trip wakes the
  database and then the bot; on a shared machine every wake-up may wait for a
  core, so the more round trips, the more a busy machine stretches the tail.
  Without the pre-ping (db/session.py) an update makes 3 to 7.
- The database pool (10 plus 10 overflow) was not a limit; 25 changed nothing.
  uvloop changed nothing measurable; ``gc.freeze()`` after startup halves the
  time spent in the garbage collector (about 2% of the CPU).
- The engine's statements on the driver (db/update_tx.py): through the ORM, half
  the engine's CPU was SQLAlchemy's session, execution context and row loading for
  three small statements; straight on asyncpg with plain records, the engine alone
  went from 0.80 to 0.28 ms an update. ``py-spy record --gil`` shows where Python
  runs; without ``--gil`` the samples in socket writes are mostly the bot preempted
  after waking PostgreSQL (latency, not CPU).
- The latency rounds bring 500 new people each, so a quarter of their updates are
  people joining by invite: those set the p95 (12 round trips, now 7).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import math
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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_KEY = secrets.token_urlsafe(32)  # the bot's ANTT_SECRET_KEY, and the invites' key
BENCH_DIR = ROOT / ".antt-bench"
TOKEN = "987654321:AABenchTokenForTheAnttBot_secret"
RESPONSE_TIMEOUT = 15.0
TARGET_P99_RATIO = 3.0
TARGET_P95_RATIO = 2.0
TARGET_CPU_RATIO = 2.0
TARGET_RSS_MB = 90.0


@dataclass(frozen=True)
class Tuning:
    """Knobs shared by both bots, so the floor is measured under the same tuning."""

    http_pool: int = 16  # HTTP connections to the Bot API for sending (256: PTB's default)
    keepalive: int = 8  # of which kept open while idle (httpx's default: 20)
    concurrency: int = 256  # updates processed at once
    db_pool: int = 10  # SQLAlchemy pool (plus as many overflow connections); ours only


# PTB's HTTPXRequest pool and httpx's idle limit; concurrent_updates(True) means 256.
PTB_DEFAULTS = Tuning(http_pool=256, keepalive=20, concurrency=256)

Action = tuple[str, str]  # ("text", "/start") or ("press", "m:lang")


def script(invite_code: str) -> tuple[list[Action], list[Action]]:
    """(onboarding, menu cycle) of one simulated person, who holds their own invite."""
    onboarding = [("text", f"/start inv_{invite_code}"), ("press", "reg:me")]
    cycle = [
        ("press", "m:lang"),
        ("press", "lang:en"),
        ("text", "/me"),
        ("text", "/lang"),
        ("press", "lang:vi"),
        ("text", "/start"),
        ("text", "/menu"),
    ]
    return onboarding, cycle


# --- the bare bot (child process) -----------------------------------------------------------


def run_bare_bot(api_url: str, tuning: Tuning, transport: str) -> None:
    """A python-telegram-bot echo bot; each input gets one keyboard message.

    ``transport`` "httpx" is PTB's own (its pool tuned like ours); "aiohttp" is the
    transport our bot uses, so that floor differs from ours by the engine alone.
    """
    import httpx
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, MessageHandler, filters
    from telegram.request import BaseRequest, HTTPXRequest

    from bot.channels.telegram.transport import AiohttpRequest

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Menu", callback_data="m:menu")]])

    async def echo(update: Update, context: Any) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        await context.bot.send_message(
            update.effective_chat.id,
            f"echo: {update.effective_message.text}",
            reply_markup=keyboard,
        )

    async def pressed(update: Update, context: Any) -> None:
        query = update.callback_query
        assert query is not None and update.effective_chat is not None
        await asyncio.gather(
            query.answer(),
            context.bot.send_message(
                update.effective_chat.id, f"pressed: {query.data}", reply_markup=keyboard
            ),
        )

    request: BaseRequest
    if transport == "aiohttp":
        request = AiohttpRequest(pool_size=tuning.http_pool, pool_timeout=10.0)
    else:
        request = HTTPXRequest(
            connection_pool_size=tuning.http_pool,
            pool_timeout=10.0,
            httpx_kwargs={
                "limits": httpx.Limits(
                    max_connections=tuning.http_pool,
                    max_keepalive_connections=tuning.keepalive,
                )
            },
        )
    builder = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .request(request)
        .concurrent_updates(tuning.concurrency)
        .job_queue(None)  # type: ignore[arg-type]
    )
    if transport == "aiohttp":
        builder = builder.get_updates_request(AiohttpRequest(pool_size=1))
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    app.run_polling(poll_interval=0.0, timeout=10, allowed_updates=["message", "callback_query"])


# --- the harness ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (0 < q <= 100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"samples": 0}
    ms = [v * 1000 for v in values]
    return {
        "samples": len(ms),
        "p50": round(percentile(ms, 50), 1),
        "p95": round(percentile(ms, 95), 1),
        "p99": round(percentile(ms, 99), 1),
        "max": round(max(ms), 1),
    }


@dataclass
class Bot:
    """A bot process under test."""

    kind: str  # "ours", "bare", "bare-defaults" or "bare-aiohttp"
    proc: asyncio.subprocess.Process
    log_path: Path

    @property
    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb(self.proc.pid)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    answered: int = 0
    lost: int = 0
    stopped: bool = False
    cpu_s: float = 0.0  # the bot process's CPU time while measured
    slow: list[tuple[float, float]] = field(default_factory=list)  # (answered at, latency)


SLOW_S = 0.1  # a reply this late is kept with the wall time it came, to find stalls
STALL_GAP_S = 1.0  # slow replies closer than this belong to one stall


def stalls(slow: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Slow replies grouped into stalls (each next one within ``STALL_GAP_S`` of the
    last): when it began (UTC, to line up with the bot's and PostgreSQL's logs), how
    long its slow replies spanned, how many, and the slowest."""
    found: list[dict[str, Any]] = []
    group: list[tuple[float, float]] = []
    for at, latency in [*sorted(slow), (math.inf, 0.0)]:
        if group and at - group[-1][0] > STALL_GAP_S:
            began = min(a - lat for a, lat in group)
            clock = dt.datetime.fromtimestamp(began, dt.UTC).strftime("%H:%M:%S.%f")
            found.append(
                {
                    "began_utc": clock[:-3],
                    "seconds": round(group[-1][0] - began, 2),
                    "replies": len(group),
                    "max_ms": round(max(lat for _, lat in group) * 1000, 1),
                }
            )
            group = []
        group.append((at, latency))
    return found


class Harness:
    def __init__(self, api: Any, db_url: str, invites: list[str], tuning: Tuning) -> None:
        self.api = api
        self.tuning = tuning
        self.db_url = db_url
        self.invites = invites  # one per simulated person, handed out in order
        self.handed_out = 0
        self.runs = itertools.count()

    def next_invite(self) -> str:
        code = self.invites[self.handed_out]
        self.handed_out += 1
        return code

    @contextlib.asynccontextmanager
    async def bot(self, kind: str, phase: str) -> AsyncIterator[Bot]:
        """Start a bot process, wait until it polls, stop it with SIGTERM afterwards."""
        BENCH_DIR.mkdir(exist_ok=True)
        log_path = BENCH_DIR / f"{kind}-{phase}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
        if kind == "ours":
            env.update(
                ANTT_DATABASE_URL=self.db_url,
                ANTT_DB_POOL_SIZE=str(self.tuning.db_pool),
                ANTT_TELEGRAM_TOKEN=TOKEN,
                ANTT_TELEGRAM_API_URL=self.api.root_url,
                ANTT_TELEGRAM_POOL_SIZE=str(self.tuning.http_pool),
                ANTT_TELEGRAM_CONCURRENCY=str(self.tuning.concurrency),
                ANTT_WEB_PORT=str(free_port()),
                # `antt run` refuses a weak key; the invites were made under this one.
                ANTT_SECRET_KEY=BENCH_KEY,
            )
            args = ["-m", "bot", "run"]
        else:
            # "bare": PTB's httpx transport tuned like ours; "bare-defaults": PTB's and
            # httpx's defaults; "bare-aiohttp": our transport.
            tuning = PTB_DEFAULTS if kind == "bare-defaults" else self.tuning
            args = [
                "-m",
                "bench.telegram_engine",
                "--bare-bot",
                self.api.root_url,
                f"--transport={'aiohttp' if kind == 'bare-aiohttp' else 'httpx'}",
                f"--http-pool={tuning.http_pool}",
                f"--keepalive={tuning.keepalive}",
                f"--concurrency={tuning.concurrency}",
            ]
        profile = os.environ.get("ANTT_BENCH_PROFILE")  # a folder for cProfile output
        if profile:
            args = ["-m", "cProfile", "-o", f"{profile}/{kind}-{phase}.prof", *args]
        since = self.api.mark()
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, *args, cwd=ROOT, env=env, stdout=log, stderr=log
            )
        bot = Bot(kind, proc, log_path)
        try:
            # PTB deletes any webhook right before its first getUpdates.
            await self.api.wait_for("deleteWebhook", timeout=60, since=since)
            yield bot
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    async def act(self, user_id: int, action: Action) -> float:
        """Push one input; return the seconds until the fake received the reply's keyboard."""
        kind, value = action
        chat = str(user_id)

        def is_reply(call: Any) -> bool:
            return call.method == "sendMessage" and "inline_keyboard" in (call.reply_markup or {})

        since = self.api.mark()
        pushed = time.monotonic()
        if kind == "text":  # a two-word name: the bot offers it, so `reg:me` registers
            self.api.user_message(
                user_id, value, first_name="Lan", last_name="Nguyễn Thị", language_code="vi"
            )
        else:
            self.api.callback(user_id, value)
        call = await self.api.wait_for(
            is_reply, timeout=RESPONSE_TIMEOUT, chat_id=chat, since=since
        )
        return float(call.timestamp) - pushed

    async def person(
        self,
        user_id: int,
        run: Run,
        *,
        measure_from: float,
        pause: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Act until cancelled: join with an invite, then go round the menu."""
        onboarding, cycle = script(self.next_invite())
        for step in itertools.count():
            if pause is not None:
                await pause()
            if run.stopped:  # a cancel can be swallowed by wait_for in Python 3.11
                return
            action = (
                onboarding[step]
                if step < len(onboarding)
                else cycle[(step - len(onboarding)) % len(cycle)]
            )
            started = time.monotonic()
            try:
                latency = await self.act(user_id, action)
            except TimeoutError:
                run.lost += 1
                continue
            if started >= measure_from:
                run.answered += 1
                run.latencies.append(latency)
                if latency >= SLOW_S:
                    run.slow.append((time.time(), latency))

    async def drive(
        self,
        kind: str,
        phase: str,
        people: int,
        seconds: float,
        warmup: float,
        pause: Callable[[], Awaitable[None]] | None = None,
    ) -> tuple[Run, float | None]:
        """``people`` acting for ``warmup + seconds``; what was answered after the warmup."""
        base = 10_000_000 + 1000 * next(self.runs)  # new people in every run
        async with self.bot(kind, phase) as bot:
            run = Run()
            start = time.monotonic()
            tasks = [
                asyncio.create_task(
                    self.person(base + i, run, measure_from=start + warmup, pause=pause)
                )
                for i in range(people)
            ]
            await asyncio.sleep(warmup)
            cpu_start = cpu_seconds(bot.proc.pid)
            await asyncio.sleep(seconds)
            # Freeze the figures at the deadline; replies still in flight do not count.
            frozen = Run(list(run.latencies), run.answered, run.lost, slow=list(run.slow))
            frozen.cpu_s = cpu_seconds(bot.proc.pid) - cpu_start
            run.stopped = True
            for task in tasks:
                task.cancel()
            ended = await asyncio.gather(*tasks, return_exceptions=True)
            failed = [e for e in ended if isinstance(e, Exception)]
            if failed:  # a simulated person broke down: the figures would be wrong
                raise failed[0]
            return frozen, bot.peak_rss_mb

    async def throughput(self, kind: str, people: int, seconds: float, warmup: float) -> dict:
        run, rss = await self.drive(kind, "throughput", people, seconds, warmup)
        return {
            "updates_per_s": round(run.answered / seconds, 1),
            "cpu_ms_per_update": round(1000 * run.cpu_s / max(run.answered, 1), 2),
            "round_trip_ms": summary_ms(run.latencies),
            "lost": run.lost,
            "peak_rss_mb": _round(rss),
        }

    async def latency(
        self, kind: str, people: int, mean_pause: float, seconds: float, warmup: float
    ) -> dict:
        rng = random.Random(42)

        async def pause() -> None:
            await asyncio.sleep(rng.expovariate(1 / mean_pause))

        run, rss = await self.drive(kind, "latency", people, seconds, warmup, pause)
        return {
            "updates_per_s": round(run.answered / seconds, 1),
            "ms": summary_ms(run.latencies),
            "lost": run.lost,
            "peak_rss_mb": _round(rss),
            "stalls": stalls(run.slow),
        }


ROUNDS = 2
LATENCY_ROUNDS = 3
KINDS = ("bare", "bare-defaults", "bare-aiohttp", "ours")


def merge_rounds(results: list[dict]) -> dict:
    return {
        "updates_per_s": round(sum(r["updates_per_s"] for r in results) / len(results), 1),
        "rounds": [r["updates_per_s"] for r in results],
        "cpu_ms_per_update": round(sum(r["cpu_ms_per_update"] for r in results) / len(results), 2),
        "round_trip_p50_ms": [r["round_trip_ms"].get("p50") for r in results],
        "lost": sum(r["lost"] for r in results),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def prepare_database(db_url: str, invites: int) -> list[str]:
    """Schema, one commune and ``invites`` single-use invites to it (one per person)."""
    from bot.config import Settings
    from db import migrate
    from db.invites import create_invite
    from db.models import Role, Unit, UnitKind
    from db.session import Database
    from db.units import child_path, fold

    db = Database(db_url, pool_size=2)
    try:
        await migrate.upgrade(db)
        async with db.sessions() as s:
            unit = Unit(
                code="BENCH-COMMUNE",
                name="Xã Thử Nghiệm",
                name_search=fold("Xã Thử Nghiệm"),
                kind=UnitKind.COMMUNE.value,
                depth=0,
            )
            s.add(unit)
            await s.flush()
            unit.path = child_path(None, unit.id)
            codes = [
                await create_invite(
                    s,
                    unit_id=unit.id,
                    role=Role.FORCE,
                    days=1,
                    settings=Settings(secret_key=BENCH_KEY),  # type: ignore[arg-type]
                )
                for _ in range(invites)
            ]
            await s.commit()
        return codes
    finally:
        await db.dispose()


async def count_rows(db_url: str, table: str) -> int:
    """Rows in ``table`` (a model's ``__tablename__``): invites used, updates recorded."""
    from sqlalchemy import text

    from db.session import Database

    db = Database(db_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
    finally:
        await db.dispose()


async def benchmark(quick: bool, tuning: Tuning) -> dict[str, Any]:
    from db.embedded import embedded_url, start_embedded
    from tests.fakes.telegram_api import FakeTelegramAPI

    tp_people, tp_seconds, tp_warmup = 20, (5.0 if quick else 15.0), 2.0
    lat_people, lat_pause = 500, 10.0
    lat_seconds, lat_warmup = (20.0 if quick else 60.0), 5.0

    load_before = os.getloadavg()[0]
    BENCH_DIR.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="pg-", dir=BENCH_DIR))
    server = start_embedded(data_dir)
    try:
        db_url = embedded_url(server)
        codes = await prepare_database(
            db_url, len(KINDS) * ROUNDS * tp_people + 2 * LATENCY_ROUNDS * lat_people
        )
        api = FakeTelegramAPI(token=TOKEN, record_calls=False, long_poll_cap=10.0)
        async with api:
            harness = Harness(api, db_url, codes, tuning)
            # Rounds alternate between the bots, so a change in the machine's other load
            # (it is shared) falls on both alike.
            rounds: dict[str, list[dict]] = {kind: [] for kind in KINDS}
            for index in range(ROUNDS):
                for kind in rounds:
                    print(f"throughput {index + 1}/{ROUNDS}: {kind} ...", file=sys.stderr)
                    rounds[kind].append(
                        await harness.throughput(kind, tp_people, tp_seconds / ROUNDS, tp_warmup)
                    )
            tp = {kind: merge_rounds(results) for kind, results in rounds.items()}
            # Latency: bare and ours alternate, LATENCY_ROUNDS each; a ratio per pair of
            # neighbouring rounds, and the median of those.
            lat_rounds: dict[str, list[dict]] = {"bare": [], "ours": []}
            for index in range(LATENCY_ROUNDS):
                for kind in lat_rounds:
                    print(
                        f"latency {index + 1}/{LATENCY_ROUNDS}: {kind} ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    lat_rounds[kind].append(
                        await harness.latency(kind, lat_people, lat_pause, lat_seconds, lat_warmup)
                    )
            violations = len(api.violations)
        joined = await count_rows(db_url, "role_grant")
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)

    ratio = tp["ours"]["updates_per_s"] / max(tp["bare"]["updates_per_s"], 1e-9)

    def pair_ratios(key: str) -> list[float]:
        return [
            o["ms"].get(key, 0) / max(b["ms"].get(key, 0), 1e-9)
            for o, b in zip(lat_rounds["ours"], lat_rounds["bare"], strict=True)
        ]

    def median_of(kind: str, key: str) -> float:
        return round(statistics.median(r["ms"].get(key, 0) for r in lat_rounds[kind]), 1)

    p99_ratio = round(statistics.median(pair_ratios("p99")), 2)
    p95_ratio = round(statistics.median(pair_ratios("p95")), 2)
    cpu_ratios = [
        o["cpu_ms_per_update"] / max(b["cpu_ms_per_update"], 1e-9)
        for o, b in zip(rounds["ours"], rounds["bare-aiohttp"], strict=True)
    ]
    cpu_ratio = round(statistics.median(cpu_ratios), 2)
    ours_p99 = median_of("ours", "p99")
    ours_rss = max((r["peak_rss_mb"] or 0.0) for r in lat_rounds["ours"]) or None
    bare_rss = max((r["peak_rss_mb"] or 0.0) for r in lat_rounds["bare"]) or None
    return {
        "benchmark": "telegram_engine",
        "quick": quick,
        "cpus": os.cpu_count(),
        # Other work on the machine skews every figure; the 1-minute load averages say how much.
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "throughput": {
            "people": tp_people,
            "seconds": tp_seconds,
            "ours_updates_per_s": tp["ours"]["updates_per_s"],
            "bare_updates_per_s": tp["bare"]["updates_per_s"],
            "ratio": round(ratio, 2),
            "target_ratio": 0.5,
            "ok": ratio >= 0.5,
            # The bare bot with PTB's default HTTP pool (256 connections, 20 kept idle):
            "bare_ptb_defaults_updates_per_s": tp["bare-defaults"]["updates_per_s"],
            "ratio_vs_ptb_defaults": round(
                tp["ours"]["updates_per_s"] / max(tp["bare-defaults"]["updates_per_s"], 1e-9), 2
            ),
            # The bare bot on our aiohttp transport: the floor without the engine.
            "bare_aiohttp_updates_per_s": tp["bare-aiohttp"]["updates_per_s"],
            "ratio_vs_bare_aiohttp": round(
                tp["ours"]["updates_per_s"] / max(tp["bare-aiohttp"]["updates_per_s"], 1e-9), 2
            ),
            "rounds": {kind: tp[kind]["rounds"] for kind in tp},
            # Less sensitive to the machine's other load than updates per second:
            "bot_cpu_ms_per_update": {kind: tp[kind]["cpu_ms_per_update"] for kind in tp},
            "round_trip_p50_ms": {kind: tp[kind]["round_trip_p50_ms"] for kind in tp},
            "lost": {kind: tp[kind]["lost"] for kind in tp},
        },
        # issue 17's figures: ratios to the bare bot in the same run (medians of pairs
        # of neighbouring rounds) and the peak RSS under the latency run's load
        "p99_ratio_vs_bare": p99_ratio,
        "p95_ratio_vs_bare": p95_ratio,
        "cpu_ratio_vs_bare_aiohttp": cpu_ratio,
        "peak_rss_mb": ours_rss,
        "targets": {
            "p99_ratio_vs_bare": TARGET_P99_RATIO,
            "p95_ratio_vs_bare": TARGET_P95_RATIO,
            "cpu_ratio_vs_bare_aiohttp": TARGET_CPU_RATIO,
            "peak_rss_mb": TARGET_RSS_MB,
            "p99_ms_quiet": 100,
        },
        "met": {
            "p99_ratio_vs_bare": p99_ratio <= TARGET_P99_RATIO,
            "p95_ratio_vs_bare": p95_ratio <= TARGET_P95_RATIO,
            "cpu_ratio_vs_bare_aiohttp": cpu_ratio <= TARGET_CPU_RATIO,
            "peak_rss_mb": ours_rss is not None and ours_rss <= TARGET_RSS_MB,
        },
        "latency": {
            "people": lat_people,
            "mean_pause_s": lat_pause,
            "seconds": lat_seconds,
            "rounds": LATENCY_ROUNDS,
            "ours_updates_per_s": [r["updates_per_s"] for r in lat_rounds["ours"]],
            "ours_ms": [r["ms"] for r in lat_rounds["ours"]],
            "bare_ms": [r["ms"] for r in lat_rounds["bare"]],
            # replies slower than SLOW_S grouped into stalls, with the UTC time each began
            "ours_stalls": [r["stalls"] for r in lat_rounds["ours"]],
            "bare_stalls": [r["stalls"] for r in lat_rounds["bare"]],
            "ours_p99_ms_median": ours_p99,
            "bare_p99_ms_median": median_of("bare", "p99"),
            "p99_ratios": [round(r, 2) for r in pair_ratios("p99")],
            "p95_ratios": [round(r, 2) for r in pair_ratios("p95")],
            "lost": {kind: sum(r["lost"] for r in rs) for kind, rs in lat_rounds.items()},
        },
        "cpu_ratios_vs_bare_aiohttp": [round(r, 2) for r in cpu_ratios],
        "memory": {
            "ours_peak_rss_mb": ours_rss,
            "bare_peak_rss_mb": bare_rss,
            "target_mb": TARGET_RSS_MB,
        },
        "joined_by_invite": joined,
        "bot_api_violations": violations,
        "tuning": {**asdict(tuning), "poll_interval": 0},
    }


# --- scale-out: `antt run --webhook` processes behind a load balancer (issue 17) ------------
#
# The latency run against one webhook process at SCALEOUT_PEOPLE people, then against two
# processes on the same database at twice as many (twice the rate); the rounds alternate.
# The "balancer" posts each update to the next process in turn (round-robin per update,
# nginx's default): Telegram's Bot API server sends a chat's next update only once our
# answer to the one before came back, and our webhook answers after the reply went out,
# so one person's updates cannot overtake each other whichever process takes them (and
# the conversation's row lock in PostgreSQL orders a redelivery racing its original).
# Each simulated person therefore posts an update only after the last one was answered,
# and posts it again (to the next pick) while it gets no 200, as Telegram does. After the
# run every person's replies are checked against their updates (check_replies) and the
# database against the updates answered.

WEBHOOK_SECRET = "bench-scaleout-webhook-secret-" + secrets.token_hex(8)  # >= 32 characters
WEBHOOK_PUBLIC_URL = "https://bot.example.test/telegram/webhook"
SCALEOUT_PEOPLE = 500  # for one process; two get twice as many
SCALEOUT_ROUNDS = 2  # pairs of rounds (one process, then two)
TARGET_SCALEOUT_RATIO = 1.5
REDELIVERY_PATIENCE = 120.0  # seconds a simulated Telegram keeps posting one update


@dataclass
class WebhookProcess:
    """An ``antt run --webhook`` process and the local URL a balancer posts updates to."""

    proc: asyncio.subprocess.Process
    url: str
    log_path: Path


def _set_webhook_calls(api: Any) -> int:
    return sum(n for method, n in api.method_counts.items() if method.lower() == "setwebhook")


@contextlib.asynccontextmanager
async def webhook_processes(
    api: Any,
    db_url: str,
    count: int,
    *,
    key: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> AsyncIterator[list[WebhookProcess]]:
    """``count`` ``antt run --webhook`` processes on one database, each on a port of its
    own; ready once each has set the webhook (its web server listens by then); stopped
    with SIGTERM afterwards. ``key`` is their ANTT_SECRET_KEY (a strong one)."""
    os.makedirs(log_dir, exist_ok=True)
    before = _set_webhook_calls(api)
    started: list[WebhookProcess] = []
    try:
        for index in range(count):
            port = free_port()
            child_env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
            child_env.update(
                ANTT_DATABASE_URL=db_url,
                ANTT_SECRET_KEY=key,
                ANTT_TELEGRAM_TOKEN=api.token,
                ANTT_TELEGRAM_API_URL=api.root_url,
                ANTT_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
                ANTT_WEB_HOST="127.0.0.1",
                ANTT_WEB_PORT=str(port),
                ANTT_DATA_DIR=str(log_dir / "data"),
            )
            child_env.update(env or {})
            log_path = log_dir / f"webhook-{count}-{index + 1}.log"
            with log_path.open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    "--webhook",
                    WEBHOOK_PUBLIC_URL,
                    cwd=ROOT,
                    env=child_env,
                    stdout=log,
                    stderr=log,
                )
            url = f"http://127.0.0.1:{port}/telegram/webhook"
            started.append(WebhookProcess(proc, url, log_path))
        deadline = time.monotonic() + 90
        while _set_webhook_calls(api) - before < count:
            for p in started:
                if p.proc.returncode is not None:
                    tail = p.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"antt run exited with {p.proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError("the webhook processes did not start within 90 s")
            await asyncio.sleep(0.1)
        yield started
    finally:
        for p in started:
            if p.proc.returncode is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in started:
            try:
                await asyncio.wait_for(p.proc.wait(), 20)
            except TimeoutError:
                p.proc.kill()
                await p.proc.wait()


def is_reply(call: Any) -> bool:
    """The message that answers a step: the one carrying the reply's keyboard."""
    return call.method == "sendMessage" and "inline_keyboard" in (call.reply_markup or {})


VIETNAMESE_LETTERS = frozenset(
    "ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
)


def reply_marker(call: Any) -> tuple[str, str]:
    """What a reply's keyboard offers (the languages, registering, or the menu) and, for
    the menu, the language of its labels."""
    data = call.callback_data
    if any(d.startswith("lang:") for d in data):
        return ("lang", "")
    if any(d.startswith("reg:") for d in data):
        return ("reg", "")
    labels = " ".join(call.button_texts).lower()
    return ("menu", "vi" if VIETNAMESE_LETTERS.intersection(labels) else "en")


def expected_markers(actions: list[Action]) -> list[tuple[str, str]]:
    """The markers of the replies to one person's ``actions``, worked out from the script:
    the language buttons after m:lang and /lang, the name question after an invite, else
    the menu, in English from lang:en until lang:vi (they start in Vietnamese)."""
    language, markers = "vi", []
    for _kind, value in actions:
        if value.startswith("lang:"):
            language = value.removeprefix("lang:")
        if value in ("m:lang", "/lang"):
            markers.append(("lang", ""))
        elif value.startswith("/start inv_"):
            markers.append(("reg", ""))
        else:
            markers.append(("menu", language))
    return markers


def reply_log_api(**kwargs: Any) -> Any:
    """A ``FakeTelegramAPI`` that notes, per chat, the marker of each reply it receives
    (not every call: ``wait_for`` would scan them all), to find a doubled, missing or
    out-of-order reply after the run."""
    from tests.fakes.telegram_api import ApiCall, FakeTelegramAPI

    class ReplyLogAPI(FakeTelegramAPI):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.replies: dict[str, list[tuple[str, str]]] = {}

        def _record(self, call: ApiCall) -> None:
            if is_reply(call):
                self.replies.setdefault(str(call.chat_id), []).append(reply_marker(call))
            super()._record(call)

    return ReplyLogAPI(**kwargs)


def check_replies(
    acted: dict[str, list[Action]], replies: dict[str, list[tuple[str, str]]]
) -> dict[str, int]:
    """Each person's replies against their answered updates, in order: one reply each, of
    the kind and language the update asks for (a reply to a later update arriving first,
    or a state the other process read stale, shows as a marker that does not fit)."""
    doubled = missing = out_of_order = 0
    for chat in acted.keys() | replies.keys():
        wanted = expected_markers(acted.get(chat, []))
        got = replies.get(chat, [])
        doubled += max(0, len(got) - len(wanted))
        missing += max(0, len(wanted) - len(got))
        out_of_order += sum(1 for w, g in zip(wanted, got, strict=False) if w != g)
    return {
        "people": len(acted),
        "updates_answered": sum(len(a) for a in acted.values()),
        "replies": sum(len(r) for r in replies.values()),
        "doubled": doubled,
        "missing": missing,
        "out_of_order": out_of_order,
    }


def tree_pids(pid: int) -> list[int]:
    """A process and its live descendants."""
    import psutil

    try:
        return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return []


def core_wait_seconds(pid: int) -> float:
    """Seconds the process's threads were ready to run but waited for a core, so far."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(stat.read_text().split()[1])  # run-queue wait, ns
    return total / 1e9


def reaped_cpu_seconds(pid: int) -> float:
    """CPU time of the children ``pid`` has waited for (PostgreSQL's ended backends)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


Usage = dict[int, tuple[float, float]]  # pid -> (CPU seconds, seconds waited for a core)


def usage(root: int | None, *, tree: bool = False) -> Usage:
    """So far, for ``root`` (and with ``tree`` its live descendants, and the CPU of those
    it reaped, counted on ``root``)."""
    found: Usage = {}
    if root is None:
        return found
    for pid in tree_pids(root) if tree else [root]:
        with contextlib.suppress(OSError, ValueError, IndexError):
            cpu = cpu_seconds(pid) + (reaped_cpu_seconds(pid) if pid == root and tree else 0)
            found[pid] = (cpu, core_wait_seconds(pid))
    return found


def per_second(before: Usage, after: Usage, seconds: float) -> tuple[float, float]:
    """Cores used and seconds waited for a core per second between two ``usage`` calls
    (a process that ended in between counts through its parent's reaped CPU only)."""
    cpu = wait = 0.0
    for pid, (cpu_after, wait_after) in after.items():
        cpu_before, wait_before = before.get(pid, (0.0, 0.0))
        cpu += cpu_after - cpu_before
        wait += wait_after - wait_before
    return cpu / seconds, wait / seconds


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class ScaleOutHarness(Harness):
    """The latency run posted through a round-robin balancer to webhook processes."""

    def __init__(self, api: Any, db_url: str, invites: list[str], tuning: Tuning) -> None:
        super().__init__(api, db_url, invites, tuning)
        self.urls: list[str] = []
        self.turn = itertools.count()
        self.acted: dict[str, list[Action]] = {}  # per chat: the updates delivered
        self.redelivered = 0  # posts answered other than 200 (or not in time): posted again

    async def act(self, user_id: int, action: Action) -> float:
        """Post one update as Telegram would: again (to the balancer's next pick) until a
        webhook answers 200, and only then the person's next one. 200 comes after the
        reply went out, so the reply is there by then."""
        import aiohttp

        kind, value = action
        chat = str(user_id)
        if kind == "text":
            # a full name, so the invite asks "Yes, that's me: ..." and reg:me joins
            update = self.api.user_message(
                user_id, value, first_name="Thị Lan", last_name="Nguyễn", push=False
            )
        else:
            update = self.api.callback(user_id, value, push=False)
        since = self.api.mark()
        reply = asyncio.create_task(
            self.api.wait_for(is_reply, timeout=REDELIVERY_PATIENCE, chat_id=chat, since=since)
        )
        await asyncio.sleep(0)  # the waiter is in place before the update goes out
        pushed = time.monotonic()
        self.acted.setdefault(chat, []).append(action)
        try:
            while True:
                url = self.urls[next(self.turn) % len(self.urls)]  # round-robin per update
                try:
                    status = await self.api.post_webhook(url, update, WEBHOOK_SECRET)
                except (TimeoutError, aiohttp.ClientError):  # 30 s without an answer
                    status = None
                if status == 200:
                    break
                self.redelivered += 1
                if time.monotonic() - pushed > REDELIVERY_PATIENCE:
                    raise TimeoutError(f"update not taken in {REDELIVERY_PATIENCE} s")
                await asyncio.sleep(1.0)
            call = await reply
        finally:
            reply.cancel()
        return float(call.timestamp) - pushed

    async def drive_webhooks(
        self,
        processes: list[WebhookProcess],
        people: int,
        mean_pause: float,
        seconds: float,
        warmup: float,
        pg_pid: int | None,
    ) -> dict[str, Any]:
        """``people`` acting for ``warmup + seconds``; then each finishes the update it has
        in flight (nothing is cut off, so every reply can be checked)."""
        rng = random.Random(42)
        stop = asyncio.Event()

        async def pause() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.expovariate(1 / mean_pause))

        self.urls = [p.url for p in processes]
        base = 20_000_000 + 10_000 * next(self.runs)  # new people in every run
        run = Run()
        start = time.monotonic()
        tasks = [
            asyncio.create_task(
                self.person(base + i, run, measure_from=start + warmup, pause=pause)
            )
            for i in range(people)
        ]
        await asyncio.sleep(warmup)
        # CPU used and time spent ready but waiting for a core: each bot, PostgreSQL (its
        # processes), and this process (the load generator and the fake Bot API)
        roots: list[tuple[int | None, bool]] = [(p.proc.pid, False) for p in processes]
        roots += [(pg_pid, True), (os.getpid(), False)]
        before = [usage(pid, tree=tree) for pid, tree in roots]
        await asyncio.sleep(seconds)
        frozen = Run(list(run.latencies), run.answered, run.lost, slow=list(run.slow))
        after = [usage(pid, tree=tree) for pid, tree in roots]
        used = [per_second(b, a, seconds) for b, a in zip(before, after, strict=True)]
        cpu = [round(u[0], 2) for u in used]
        wait = [round(u[1], 2) for u in used]
        bots_s = [u[0] * seconds for u in used[: len(processes)]]
        run.stopped = True
        stop.set()
        ended = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [e for e in ended if isinstance(e, Exception)]
        if failed:  # a simulated person broke down: the figures would be wrong
            raise failed[0]
        answered = max(frozen.answered, 1)
        return {
            "processes": len(processes),
            "people": people,
            "updates_per_s": round(frozen.answered / seconds, 1),
            "ms": summary_ms(frozen.latencies),
            "lost": frozen.lost,
            # cores busy in the measured window (1.0: one core all the time), and seconds
            # per second spent ready to run but waiting for a core (from schedstat)
            "cores": {"bots": cpu[:-2], "postgres": cpu[-2], "load_generator": cpu[-1]},
            "waiting_for_a_core": {
                "bots": wait[:-2],
                "postgres": wait[-2],
                "load_generator": wait[-1],
            },
            "bot_cpu_ms_per_update": round(1000 * sum(bots_s) / answered, 2),
            "peak_rss_mb": [_round(peak_rss_mb(p.proc.pid)) for p in processes],
            "stalls": stalls(frozen.slow),
        }


async def scaleout_benchmark(
    quick: bool,
    tuning: Tuning,
    *,
    people: int = SCALEOUT_PEOPLE,
    seconds: float | None = None,
    load_factor: float = 2.0,
) -> dict[str, Any]:
    """One webhook process at ``people``, two at ``load_factor`` times as many (twice:
    ``scaleout_p99_ratio``; once: what a second process costs at the same load)."""
    from db.embedded import embedded_url, start_embedded

    mean_pause, warmup = 10.0, 5.0
    seconds = seconds or (20.0 if quick else 60.0)
    rounds = 1 if quick else SCALEOUT_ROUNDS
    load_before = os.getloadavg()
    BENCH_DIR.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="pg-scaleout-", dir=BENCH_DIR))
    server = start_embedded(data_dir)
    env = {
        "ANTT_DB_POOL_SIZE": str(tuning.db_pool),
        "ANTT_TELEGRAM_POOL_SIZE": str(tuning.http_pool),
        "ANTT_TELEGRAM_CONCURRENCY": str(tuning.concurrency),
    }
    results: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    try:
        db_url = embedded_url(server)
        two_people = round(load_factor * people)
        codes = await prepare_database(db_url, rounds * (people + two_people))
        pg_pid = postmaster_pid(data_dir)
        api = reply_log_api(token=TOKEN, record_calls=False)
        async with api:
            harness = ScaleOutHarness(api, db_url, codes, tuning)
            for index in range(rounds):
                for count, crowd in ((1, people), (2, two_people)):
                    print(
                        f"scale-out {index + 1}/{rounds}: {count} webhook process(es), "
                        f"{crowd} people ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    async with webhook_processes(
                        api, db_url, count, key=BENCH_KEY, log_dir=BENCH_DIR / "scaleout", env=env
                    ) as processes:
                        results[count].append(
                            await harness.drive_webhooks(
                                processes, crowd, mean_pause, seconds, warmup, pg_pid
                            )
                        )
            order = check_replies(harness.acted, api.replies)
            violations = len(api.violations)
        recorded = await count_rows(db_url, "processed_update")
        joined = await count_rows(db_url, "role_grant")
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)

    ratios = [
        two["ms"].get("p99", 0) / max(one["ms"].get("p99", 0), 1e-9)
        for one, two in zip(results[1], results[2], strict=True)
    ]
    ratio = round(statistics.median(ratios), 2)
    two_p99 = round(statistics.median(r["ms"].get("p99", 0) for r in results[2]), 1)
    one_p99 = round(statistics.median(r["ms"].get("p99", 0) for r in results[1]), 1)
    return {
        "scaleout_p99_ratio": ratio,
        "scaleout_p99_ms": two_p99,
        "scaleout": {
            "balancing": "round-robin per update",
            "load_factor": load_factor,  # people of the two-process rounds / one's
            "rounds": rounds,
            "seconds": seconds,
            "mean_pause_s": mean_pause,
            "cpus": os.cpu_count(),
            "load_average": {
                "before": [round(x, 2) for x in load_before],
                "after": [round(x, 2) for x in os.getloadavg()],
            },
            "one_process_p99_ms": one_p99,
            "p99_ratios": [round(r, 2) for r in ratios],
            "one_process": results[1],
            "two_processes": results[2],
            # every person's replies: one per answered update, of the right kind, in order
            "order": order,
            "redelivered_posts": harness.redelivered,
            # the database: each answered update recorded once; each person who pressed
            # "Yes, that's me" joined (one grant each)
            "processed_updates_recorded": recorded,
            "joined_by_invite": joined,
            "joins_answered": sum(
                1 for acts in harness.acted.values() if ("press", "reg:me") in acts
            ),
            "bot_api_violations": violations,
        },
    }


def add_scaleout(result: dict[str, Any], scaleout: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the scale-out figures, their target and whether it was met."""
    order = scaleout["scaleout"]["order"]
    result.update(scaleout)
    result.setdefault("met", {})["scaleout_replies_in_order"] = (
        order["doubled"] == order["missing"] == order["out_of_order"] == 0
    )
    if scaleout["scaleout"]["load_factor"] == 2.0:  # the target is for twice the load
        result.setdefault("targets", {})["scaleout_p99_ratio"] = TARGET_SCALEOUT_RATIO
        result["met"]["scaleout_p99_ratio"] = (
            scaleout["scaleout_p99_ratio"] <= TARGET_SCALEOUT_RATIO
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (ANTT_BENCH_QUICK=1)")
    default = Tuning()
    parser.add_argument("--http-pool", type=int, default=default.http_pool)
    parser.add_argument("--keepalive", type=int, default=default.keepalive)
    parser.add_argument("--concurrency", type=int, default=default.concurrency)
    parser.add_argument("--db-pool", type=int, default=default.db_pool)
    parser.add_argument(
        "--scaleout", action="store_true", help="only the scale-out run (webhook processes)"
    )
    parser.add_argument("--no-scaleout", action="store_true", help="skip the scale-out run")
    parser.add_argument("--scaleout-people", type=int, default=SCALEOUT_PEOPLE)
    parser.add_argument("--scaleout-seconds", type=float, help="measured seconds per round")
    parser.add_argument(
        "--scaleout-load-factor",
        type=float,
        default=2.0,
        help="people of the two-process rounds / one's (1: the cost of a second process)",
    )
    parser.add_argument("--bare-bot", metavar="API_URL", help=argparse.SUPPRESS)
    parser.add_argument("--transport", choices=("httpx", "aiohttp"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tuning = Tuning(args.http_pool, args.keepalive, args.concurrency, args.db_pool)
    if args.bare_bot:
        run_bare_bot(args.bare_bot, tuning, args.transport or "httpx")
        return 0
    quick = args.quick or os.environ.get("ANTT_BENCH_QUICK", "") not in ("", "0")
    result: dict[str, Any] = (
        {"benchmark": "telegram_engine", "quick": quick}
        if args.scaleout
        else asyncio.run(benchmark(quick, tuning))
    )
    if not args.no_scaleout:
        scaleout = scaleout_benchmark(
            quick,
            tuning,
            people=args.scaleout_people,
            seconds=args.scaleout_seconds,
            load_factor=args.scaleout_load_factor,
        )
        add_scaleout(result, asyncio.run(scaleout))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
