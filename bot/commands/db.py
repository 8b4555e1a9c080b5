"""``antt db upgrade|current``: bring the database (embedded or configured) to head."""

from __future__ import annotations

import argparse

from handlers.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("db", help=_("database maintenance"))
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("upgrade", help=_("migrate the database to the latest schema"))
    up.set_defaults(handler=upgrade)
    cur = actions.add_parser("current", help=_("print the schema revision"))
    cur.set_defaults(handler=current)


async def upgrade(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db import migrate

    async with open_database(get_settings(), upgrade=True) as db:
        print(
            _("Database at revision {revision}.").format(
                revision=await migrate.current_revision(db)
            )
        )
    return 0


async def current(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db import migrate

    async with open_database(get_settings(), upgrade=False) as db:
        print(await migrate.current_revision(db) or "-")
    return 0
