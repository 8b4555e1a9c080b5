"""Turning command-line values into domain objects, with one-line errors for people.

Database modules are imported inside the functions: command modules load these
helpers at ``antt --help`` time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands._output import ROLE_NAMES
from bot.errors import UserError
from handlers.i18n import _

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from db.models import Role, Unit

ROLE_CHOICES = tuple(ROLE_NAMES)  # the values of db.models.Role (a unit test keeps them equal)


def role_of(value: str) -> Role:
    from db.models import Role

    try:
        return Role(value.strip().lower())
    except ValueError:
        raise UserError(
            _("unknown role {role}; expected one of: {roles}").format(
                role=value, roles=", ".join(r.value for r in Role)
            )
        ) from None


async def unit_of(session: AsyncSession, code: str) -> Unit:
    from db.units import by_code

    unit = await by_code(session, code)
    if unit is None:
        raise UserError(_("unknown unit {code}").format(code=code))
    return unit
