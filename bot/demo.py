"""The running demo: engine on the demo clock, the emulator, the scheduler and the outbox sender.

``running_demo(settings, db)`` starts, on one aiohttp server, the web emulator
with the personas of :mod:`bot.demo_seed`; the scheduler's time triggers run on
the demo clock, and "next day" runs the day's jobs at once (reminders, nudges,
tip escalation, the digest) since APScheduler's triggers follow real time. The
outbox sender works in real time: rows are queued with the database's ``now()``
as ``not_before``, and the demo has no quiet hours. The demo date is kept in
``<data_dir>/demo-clock.txt``, so a second run goes on from the day it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.channels.emulator import DemoClock, EmulatorChannel, mount
from bot.config import Settings
from bot.demo_seed import DEMO_START, PERSONAS
from bot.runtime import Runtime
from db.session import Database
from handlers.engine import Engine

log = logging.getLogger(__name__)

Job = Callable[[Database, Settings, dt.datetime], Awaitable[Any]]
# The jobs of a day, in order; a module that does not exist (yet) is skipped.
DAY_JOBS = (
    ("scheduler.reorganize", "apply_due_reorganizations"),
    ("scheduler.tips", "escalate_unacknowledged"),
    ("scheduler.reminders", "send_deadline_reminders"),
    ("scheduler.reminders", "send_checkin_nudges"),
    ("scheduler.digest", "send_digests"),
    ("scheduler.evaluation", "send_evaluation_reminders"),
)
CLOCK_FILE = "demo-clock.txt"


def demo_settings(settings: Settings) -> Settings:
    """No quiet hours: a demo at night should still show its reminders."""
    return settings.model_copy(update={"quiet_start": dt.time(0), "quiet_end": dt.time(0)})


def day_jobs() -> list[tuple[str, Job]]:
    jobs = []
    for module_name, name in DAY_JOBS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        job = getattr(module, name, None)
        if callable(job):
            jobs.append((f"{module_name}.{name}", job))
    return jobs


def saved_start(data_dir: Path) -> dt.datetime:
    """Where the last run's clock stopped, or the demo's first morning."""
    try:
        saved = dt.datetime.fromisoformat((data_dir / CLOCK_FILE).read_text().strip())
    except (OSError, ValueError):
        return DEMO_START
    return max(saved, DEMO_START) if saved.tzinfo is not None else DEMO_START


@dataclass
class Demo:
    runtime: Runtime
    channel: EmulatorChannel
    clock: DemoClock

    @property
    def url(self) -> str:
        return self.runtime.web.url


@contextlib.asynccontextmanager
async def running_demo(
    settings: Settings, db: Database, *, start: dt.datetime | None = None
) -> AsyncIterator[Demo]:
    """The demo served on ``settings.web_host:web_port`` until the block ends."""
    from scheduler.broadcast import ProgressReporter
    from scheduler.jobs import SchedulerService
    from scheduler.outbox import OutboxSender

    settings = demo_settings(settings)
    # "Next day" lands at the morning run of the reminders (and the digest) of that day.
    morning = dt.time(settings.reminder_hour)
    clock = DemoClock(
        start or saved_start(settings.data_dir), morning=morning, tz=settings.timezone
    )
    engine = Engine(db, settings, clock=clock)
    runtime = Runtime(settings, db, engine=engine)
    channel = EmulatorChannel(engine, PERSONAS)
    mount(runtime.web_app, channel, clock)
    jobs = day_jobs()

    async def next_day(now: dt.datetime) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        (settings.data_dir / CLOCK_FILE).write_text(now.isoformat())
        for name, job in jobs:
            result = await job(db, settings, now)
            log.info("demo day %s: %s -> %s", now.date(), name, result)

    clock.hooks.append(next_day)
    if start is not None:  # antt demo --date: the next run goes on from there
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        (settings.data_dir / CLOCK_FILE).write_text(clock.now().isoformat())
    # The demo's digest comes with "next day", never as the demo starts.
    triggers = SchedulerService(
        db,
        settings,
        {},
        clock=clock,
        send=False,
        digest_catch_up=False,
        served={channel.name},
    )
    sender = OutboxSender(db, settings, {channel.name: channel})
    progress = ProgressReporter(db, settings, {channel.name: channel}, clock=clock)
    stop = asyncio.Event()

    async def show_progress() -> None:
        """The admin's announcement status, edited in place every few seconds."""
        while not stop.is_set():
            try:
                await progress.tick()
            except Exception:
                log.exception("demo: announcement progress failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.broadcast_progress_seconds)

    async with runtime:
        await triggers.start()
        sending = asyncio.create_task(sender.run(stop), name="demo-outbox")
        showing = asyncio.create_task(show_progress(), name="demo-progress")
        try:
            yield Demo(runtime, channel, clock)
        finally:
            stop.set()
            await triggers.stop()
            await sending
            await showing
