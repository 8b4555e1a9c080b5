"""Naming a unit's predecessors in reports: "including former Xã Nam Giang and Xã Kim Liên"."""

from __future__ import annotations

from collections.abc import Sequence

from db.models import Unit
from handlers.i18n import _, format_date
from handlers.render import esc


def join_names(names: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C`` in the current language."""
    if len(names) < 2:
        return "".join(names)
    return _("{first} and {last}").format(first=", ".join(names[:-1]), last=names[-1])


def including_former(former: Sequence[Unit], *, escape: bool = True) -> str | None:
    """The phrase naming ``former`` units, or None when there are none."""
    if not former:
        return None
    names = [esc(u.name) if escape else u.name for u in former]
    return _("including former {units}").format(units=join_names(names))


def until_label(unit: Unit) -> str:
    """``Xã Nam Giang (until 30/06/2025)``: a closed unit with its last day."""
    import datetime as dt

    if unit.valid_to is None:
        return unit.name
    last = unit.valid_to - dt.timedelta(days=1)
    return _("{unit} (until {date})").format(unit=unit.name, date=format_date(last))
