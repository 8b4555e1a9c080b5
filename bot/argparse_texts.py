"""argparse's own texts ("usage: ", "options", errors) through our catalogue.

argparse asks ``gettext.gettext`` (the ``messages`` domain on disk) for its
texts, so the Vietnamese command line said "usage:" and "options:".
``install()`` points argparse at ``handlers.i18n`` instead; the msgids are
marked here so Babel extracts them (tests/unit/test_gettext_literals.py checks
the list against the running argparse).
"""

from __future__ import annotations

import argparse

from handlers.i18n import N_, _, ngettext

ARGPARSE_MSGIDS = (
    N_("usage: "),
    N_("options"),
    N_("positional arguments"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("ignored explicit argument %r"),
    N_("can't open '%(filename)s': %(error)s"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
    N_("unexpected option string: %s"),
    N_("%r is not callable"),
    N_("'required' is an invalid argument for positionals"),
    N_(".__call__() not defined"),
    N_('argument "-" with mode %r'),
    N_("cannot have multiple subparser arguments"),
    N_("cannot merge actions - two groups are named %r"),
    N_("conflicting subparser alias: %s"),
    N_("conflicting subparser: %s"),
    N_("dest= is required for options like %r"),
    N_("invalid conflict_resolution value: %r"),
    N_("invalid option string %(option)r: must start with a character %(prefix_chars)r"),
    N_("mutually exclusive arguments must be optional"),
)


def plural_msgids(n: int) -> tuple[str, str]:
    """argparse's plural msgids, written out so Babel extracts them."""
    return (
        ngettext("conflicting option string: %s", "conflicting option strings: %s", n),
        ngettext("expected %s argument", "expected %s arguments", n),
    )


def install() -> None:
    """Make argparse translate through the current language (before parsers are built)."""
    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
