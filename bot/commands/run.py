"""``antt run``: the bot on Telegram, polling (default) or by webhook (``--webhook URL``).

Both serve ``/healthz`` on ``ANTT_WEB_HOST:ANTT_WEB_PORT``; in webhook mode the
same server takes Telegram's updates on ``ANTT_TELEGRAM_WEBHOOK_PATH``. Ctrl-C
or SIGTERM stops it cleanly (Telegram, web server, database, embedded server).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("run", help="run the bot on Telegram (long polling or webhook)")
    parser.add_argument(
        "--webhook",
        metavar="URL",
        help="public https URL Telegram should post updates to (ANTT_TELEGRAM_WEBHOOK_SECRET "
        "required); without it the bot polls",
    )
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not run reminders, digests and the outbox sender in this process "
        "(run `antt scheduler` elsewhere)",
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    from bot.channels.telegram.app import check_settings
    from bot.config import get_settings
    from bot.runtime import running, wait_for_stop_signal
    from scheduler.jobs import SchedulerService

    settings = get_settings()
    check_settings(settings, webhook_url=args.webhook)  # before the database starts
    async with contextlib.AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(running(settings, webhook_url=args.webhook))
        if not args.no_scheduler and runtime.telegram is not None:
            # One process on one machine: the time triggers and the outbox sender run here.
            channels = {"telegram": runtime.telegram.channel}
            await stack.enter_async_context(SchedulerService(runtime.db, settings, channels))
        # Everything loaded at startup lives as long as the process: keep it out of the
        # garbage collector's way (fewer objects to scan in every full collection).
        gc.freeze()
        mode = f"webhook {args.webhook}" if args.webhook else "polling"
        log.info("ANTT Bot running (%s); health on %s/healthz", mode, runtime.web.url)
        await wait_for_stop_signal()
        log.info("stopping")
    return 0
