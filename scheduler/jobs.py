"""The scheduler of one process: APScheduler 3.11 time triggers plus the outbox sender.

APScheduler only fires triggers here (its in-memory job store is never shared);
every job writes outbox rows under unique keys, so N processes firing the same
trigger queue each message once, and N senders deliver it once. A job runs
under the advisory lock ``job:<name>`` (:mod:`scheduler.leader`): when another
process is running it, this one skips its turn. A job that fails (a database
outage, a bug) is retried with a backoff until it succeeds, ``/healthz`` naming
it meanwhile.

===================  ===========================================  ===================
job                  when (Asia/Ho_Chi_Minh)                      also at start-up
===================  ===========================================  ===================
deadline reminders   daily at ``reminder_hour`` (07:00); days     yes
                     missed while no process ran first (late)
check-in nudges      Mondays at ``reminder_hour``:05              if past that hour
tip escalation       every 10 minutes, if ``scheduler.tips``      yes
                     provides ``escalate_unacknowledged``
daily digest         daily at ``digest_hour`` (07:00)             within 4 hours after it
housekeeping         daily at ``housekeeping_hour`` (03:00):      yes
                     old update ids, expired reporter links
announcement fan-out every 2 seconds: outbox rows of announcements  yes
                     whose time has come (``scheduler.broadcast``)
announcement status  every ``broadcast_progress_seconds``: the     —
                     authors' status messages, edited in place
reorganisations      daily at 00:05: stored unit mappings due     yes
                     that day (``scheduler.reorganize``)
outbox sender        a long-running task, polling every second    —
===================  ===========================================  ===================

Start it inside the running loop::

    service = SchedulerService(db, settings, {"telegram": channel})
    await service.start()
    ...
    await service.stop()
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.channels.base import Channel
from bot.config import Settings
from bot.health import Backoff, Health, describe, wait_or_stop
from db.models import utcnow
from db.outage import is_outage
from db.session import Database
from scheduler.broadcast import ProgressReporter, fan_out_due, served_channels
from scheduler.catch_up import deadline_reminders_caught_up
from scheduler.digest import send_digests
from scheduler.evaluation import send_evaluation_reminders
from scheduler.housekeeping import tidy_up
from scheduler.leader import AdvisoryLock
from scheduler.outbox import OutboxSender
from scheduler.reminders import send_checkin_nudges
from scheduler.reorganize import apply_due_reorganizations

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Job = Callable[[Database, Settings, dt.datetime], Awaitable[Any]]
TIP_ESCALATION_MINUTES = 10
FANOUT_SECONDS = 2
DIGEST_CATCH_UP_HOURS = 4
JOB_RETRY_MAX_SECONDS = 10.0
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}


def tip_escalation() -> Job | None:
    """``scheduler.tips.escalate_unacknowledged`` when that module exists."""
    try:
        module = importlib.import_module("scheduler.tips")
    except ModuleNotFoundError as exc:
        if exc.name != "scheduler.tips":
            raise
        return None
    job = getattr(module, "escalate_unacknowledged", None)
    return job if callable(job) else None


class SchedulerService:
    """Triggers and sender of one process; ``channels`` maps ``identity.channel`` to a Channel."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        channels: Mapping[str, Channel],
        *,
        clock: Clock = utcnow,
        send: bool = True,
        digest_catch_up: bool = True,
        health: Health | None = None,
        served: Collection[str] | None = None,
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        # Channels some process sends on; announcements to others are "not reachable".
        self.served = served_channels(settings, channels) if served is None else frozenset(served)
        self.health = health or Health()
        self.settings = settings
        self.clock = clock
        self.digest_catch_up = digest_catch_up
        self.tz = ZoneInfo(settings.timezone)
        self.sender = (
            OutboxSender(db, settings, channels, clock=clock, health=self.health) if send else None
        )
        self.progress = ProgressReporter(db, settings, channels, clock=clock) if send else None
        self.scheduler = AsyncIOScheduler(timezone=self.tz, job_defaults=JOB_DEFAULTS)
        self._stop = asyncio.Event()
        self._sender_task: asyncio.Task[None] | None = None

    def _wrap(self, name: str, job: Job) -> Callable[[], Awaitable[None]]:
        """The job, retried after any error with a backoff until it succeeds or we stop.

        The time it fired is kept across the retries: a run held up by an outage
        still does that day's work. While it fails, ``/healthz`` names it.
        """

        async def run() -> None:
            fired = self.clock()
            backoff = Backoff(first=1.0, cap=JOB_RETRY_MAX_SECONDS)
            while not self._stop.is_set():
                lock = AdvisoryLock(self.db, f"job:{name}")
                try:
                    if not await lock.acquire():
                        log.info("job %s is running in another process: skipped here", name)
                        self.health.up(f"job {name}")
                        return
                    try:
                        result = await job(self.db, self.settings, fired)
                    finally:
                        await lock.release()
                except asyncio.CancelledError:
                    if not self._stop.is_set():
                        raise
                    # The process is stopping (asyncio.run cancels what still runs): the
                    # next start's run does the work; not an error for APScheduler to log.
                    log.info("job %s stopped with the process", name)
                    return
                except Exception as exc:
                    delay = backoff.next()
                    self.health.down(f"job {name}", describe(exc))
                    log.error(
                        "job %s failed: %s; again in %.0f s",
                        name,
                        describe(exc),
                        delay,
                        exc_info=not is_outage(exc),
                    )
                    await wait_or_stop(self._stop, delay)
                    continue
                self.health.up(f"job {name}")
                log.debug("job %s done: %s", name, result)
                return

        run.__name__ = name.replace("-", "_")
        return run

    def add_jobs(self) -> None:
        hour = self.settings.reminder_hour
        now_local = self.clock().astimezone(self.tz)
        soon = dt.datetime.now(self.tz) + dt.timedelta(seconds=1)
        self.scheduler.add_job(
            self._wrap("deadline-reminders", deadline_reminders_caught_up),
            CronTrigger(hour=hour, minute=0, timezone=self.tz),
            id="deadline-reminders",
            replace_existing=True,
            next_run_time=soon,
        )
        self.scheduler.add_job(
            self._wrap("evaluation-reminders", send_evaluation_reminders),
            CronTrigger(hour=hour, minute=2, timezone=self.tz),
            id="evaluation-reminders",
            replace_existing=True,
            next_run_time=soon,
        )
        # The nudge is keyed by ISO week: a start-up run before the morning one would
        # count towards the week that is ending.
        at_startup: dict[str, Any] = {"next_run_time": soon} if now_local.hour >= hour else {}
        self.scheduler.add_job(
            self._wrap("checkin-nudges", send_checkin_nudges),
            CronTrigger(day_of_week="mon", hour=hour, minute=5, timezone=self.tz),
            id="checkin-nudges",
            replace_existing=True,
            **at_startup,
        )
        # A digest is keyed by day (sent once). A process that was down at digest time
        # catches up if it starts soon after; later in the day the digest would be stale.
        digest_hour = self.settings.digest_hour
        catch_up = (
            self.digest_catch_up
            and digest_hour <= now_local.hour < digest_hour + DIGEST_CATCH_UP_HOURS
        )
        self.scheduler.add_job(
            self._wrap("daily-digest", send_digests),
            CronTrigger(hour=digest_hour, minute=0, timezone=self.tz),
            id="daily-digest",
            replace_existing=True,
            **({"next_run_time": soon} if catch_up else {}),
        )
        self.scheduler.add_job(
            self._wrap("housekeeping", tidy_up),
            CronTrigger(hour=self.settings.housekeeping_hour, minute=0, timezone=self.tz),
            id="housekeeping",
            replace_existing=True,
            next_run_time=soon,
        )

        async def fan_out(db: Database, settings: Settings, now: dt.datetime) -> int:
            return await fan_out_due(db, settings, now, channels=self.channels, served=self.served)

        self.scheduler.add_job(
            self._wrap("broadcast-fanout", fan_out),
            IntervalTrigger(seconds=FANOUT_SECONDS, timezone=self.tz),
            id="broadcast-fanout",
            replace_existing=True,
            next_run_time=soon,
        )
        if self.progress is not None:
            progress = self.progress

            async def show_progress(db: Database, settings: Settings, now: dt.datetime) -> int:
                return await progress.tick()

            self.scheduler.add_job(
                self._wrap("broadcast-progress", show_progress),
                IntervalTrigger(seconds=self.settings.broadcast_progress_seconds, timezone=self.tz),
                id="broadcast-progress",
                replace_existing=True,
            )
        self.scheduler.add_job(
            self._wrap("reorganizations", apply_due_reorganizations),
            CronTrigger(hour=0, minute=5, timezone=self.tz),
            id="reorganizations",
            replace_existing=True,
            next_run_time=soon,
        )
        escalate = tip_escalation()
        if escalate is not None:
            self.scheduler.add_job(
                self._wrap("tip-escalation", escalate),
                IntervalTrigger(minutes=TIP_ESCALATION_MINUTES, timezone=self.tz),
                id="tip-escalation",
                replace_existing=True,
                next_run_time=soon,
            )

    async def start(self) -> None:
        """Start the triggers and the sender on the running loop."""
        self.add_jobs()
        self.scheduler.start()
        if self.sender is not None:
            self._sender_task = asyncio.create_task(self.sender.run(self._stop), name="outbox")
        log.info("scheduler started: %s", ", ".join(j.id for j in self.scheduler.get_jobs()))

    async def stop(self) -> None:
        """Stop firing, then let the sender finish the row it is on."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self._stop.set()
        if self._sender_task is not None:
            await self._sender_task
            self._sender_task = None

    async def __aenter__(self) -> SchedulerService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
