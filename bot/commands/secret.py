"""``antt secret new`` prints a strong key; ``antt secret rotate`` re-seals under a new key.

Rotation: set ``ANTT_SECRET_KEY`` to a new key (``antt secret new``) and
``ANTT_SECRET_KEY_PREVIOUS`` to the old one, restart, and run ``antt secret rotate``.
What was sealed under the old key is sealed again under the new one; tracking and
invite codes (stored only as keyed digests) are re-keyed when next used, so keep
``ANTT_SECRET_KEY_PREVIOUS`` until the tips and invites made before the rotation
are closed (see docs/security.md).
"""

from __future__ import annotations

import argparse

from handlers.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("secret", help=_("make a secret key, or re-seal data under a new one"))
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = actions.add_parser("new", help=_("print a new random key for ANTT_SECRET_KEY"))
    new.set_defaults(handler=new_command)
    rotate = actions.add_parser(
        "rotate",
        help=_(
            "re-seal everything under ANTT_SECRET_KEY that was sealed under "
            "ANTT_SECRET_KEY_PREVIOUS"
        ),
    )
    rotate.set_defaults(handler=rotate_command)


def new_command(args: argparse.Namespace) -> int:
    from bot.keys import new_key

    print(new_key())
    return 0


async def rotate_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from bot.errors import UserError
    from bot.keys import require_strong_key
    from db.rekey import reseal_all

    settings = get_settings()
    require_strong_key(settings)
    previous = settings.secret_key_previous
    if previous is None or not previous.get_secret_value():
        raise UserError(_("Set ANTT_SECRET_KEY_PREVIOUS to the old key to rotate."))
    if previous.get_secret_value() == settings.secret_key.get_secret_value():
        raise UserError(_("ANTT_SECRET_KEY_PREVIOUS is the same as ANTT_SECRET_KEY."))
    async with open_database(settings) as db:
        done = await reseal_all(db, settings)
    print(
        _(
            "Re-sealed under the new key: {links} reporter links, {messages} queued messages, "
            "{conversations} conversations. Tracking and invite codes are re-keyed when used."
        ).format(links=done.links, messages=done.messages, conversations=done.conversations)
    )
    return 0
