"""``antt run``: the bot on Telegram and/or Zalo, polling (default) or by webhook.

Telegram runs when ``ANTT_TELEGRAM_TOKEN`` is set (``--webhook URL``), Zalo when
``ANTT_ZALO_TOKEN`` is set (``--zalo-webhook URL``). Both serve ``/healthz`` on
``ANTT_WEB_HOST:ANTT_WEB_PORT``; in webhook mode the same server takes the
updates. Ctrl-C or SIGTERM stops it cleanly (channels, web server, database).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging

from handlers.i18n import _

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "run", help=_("run the bot on Telegram and/or Zalo (long polling or webhook)")
    )
    parser.add_argument(
        "--webhook",
        metavar="URL",
        help=_(
            "public https URL Telegram should post updates to (ANTT_TELEGRAM_WEBHOOK_SECRET "
            "required); without it the bot polls"
        ),
    )
    parser.add_argument(
        "--zalo-webhook",
        metavar="URL",
        help=_(
            "public https URL Zalo should post updates to (ANTT_ZALO_WEBHOOK_SECRET "
            "required); without it the bot polls Zalo"
        ),
    )
    parser.add_argument(
        "--no-scheduler",
        action="store_true",
        help=_(
            "do not run reminders, digests and the outbox sender in this process "
            "(run `antt scheduler` elsewhere)"
        ),
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    from bot.channels.telegram.app import check_settings
    from bot.config import get_settings
    from bot.keys import require_strong_key
    from bot.memory import keep_heap_steady, release_free_heap
    from bot.runtime import running, wait_for_stop_signal
    from scheduler.jobs import SchedulerService

    keep_heap_steady()
    settings = get_settings()
    require_strong_key(settings)
    zalo = settings.zalo_token is not None
    telegram = settings.telegram_token is not None or not zalo
    if telegram:  # before the database starts
        check_settings(settings, webhook_url=args.webhook)
    if zalo and args.zalo_webhook is not None:
        from bot.channels.zalo.service import check_zalo_settings  # Zalo's code only with Zalo

        check_zalo_settings(settings, webhook_url=args.zalo_webhook)
    async with contextlib.AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(
            running(
                settings,
                telegram=telegram,
                webhook_url=args.webhook,
                zalo=zalo,
                zalo_webhook_url=args.zalo_webhook,
            )
        )
        if not args.no_scheduler:
            # One process on one machine: the time triggers and the outbox sender run here.
            channels = runtime.channels()
            await stack.enter_async_context(
                SchedulerService(runtime.db, settings, channels, health=runtime.health)
            )
        # Everything loaded at startup lives as long as the process: keep it out of the
        # garbage collector's way (fewer objects to scan in every full collection),
        # after collecting start-up's garbage (frozen, it would never be freed); then
        # give the memory start-up freed back to the system (bot/memory.py).
        gc.collect()
        gc.freeze()
        release_free_heap()
        mode = ", ".join(
            f"{name} {'webhook' if hook else 'polling'}"
            for name, on, hook in (
                ("telegram", telegram, args.webhook),
                ("zalo", zalo, args.zalo_webhook),
            )
            if on
        )
        log.info("ANTT Bot running (%s); health on %s/healthz", mode, runtime.web.url)
        await wait_for_stop_signal()
        log.info("stopping")
    return 0
