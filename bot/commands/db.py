"""``antt db upgrade|current|backup|restore``: the database (embedded or configured):
migrate to head, show the revision, dump to a file, replace from a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from handlers.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("db", help=_("database maintenance"))
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("upgrade", help=_("migrate the database to the latest schema"))
    up.set_defaults(handler=upgrade)
    cur = actions.add_parser("current", help=_("print the schema revision"))
    cur.set_defaults(handler=current)
    dump = actions.add_parser(
        "backup", help=_("write the whole database to FILE (PostgreSQL's custom dump format)")
    )
    dump.add_argument("file", metavar="FILE", type=Path)
    dump.set_defaults(handler=backup)
    load = actions.add_parser(
        "restore", help=_("replace the database's contents with a backup FILE (all or nothing)")
    )
    load.add_argument("file", metavar="FILE", type=Path)
    load.set_defaults(handler=restore)


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


async def backup(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db import backup as dump

    async with open_database(get_settings(), upgrade=False) as db:
        await dump.backup(db.url, args.file)
    print(_("Backup written to {path}.").format(path=args.file))
    return 0


async def restore(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db import backup as dump

    async with open_database(get_settings(), upgrade=False) as db:
        await db.dispose()  # no connection of ours in the way of the restore
        await dump.restore(db.url, args.file)
    print(_("Database restored from {path}.").format(path=args.file))
    return 0
