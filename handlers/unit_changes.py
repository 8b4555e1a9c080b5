"""When units end: the admins above are told who lost a role, and may grant one elsewhere.

``notify_lost_roles`` queues one message per admin identity (in the caller's
transaction) listing the people whose grants ended with their unit, with a button
per person (``ucg:<member>``). The button starts a short flow: the admin types a
unit's name or code, picks it among the open units of their own subtree, picks a
role, and the grant is made with the admin as ``granted_by`` (audited). A button is
only a request: the person must have lost a role inside the admin's subtree, and
the unit must lie in it, checked again on every step.

```mermaid
flowchart TD
    notice[message: who lost a role] -- "ucg:member" --> unit[ASK_UNIT: type a unit]
    unit -- one or several matches --> pick["ucu:unit"] --> role[ASK_ROLE]
    role -- "ucr:role" --> grant[grant_role + audit] --> done[main menu]
```
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.members import grant_role
from db.models import Identity, Member, Role, RoleGrant, Unit
from db.succession import MovedGrant
from db.units import by_code, by_id, search_by_name
from handlers.flow import Context, Flow, Invalid, StepDef, choice_or_text, registry
from handlers.i18n import _
from handlers.notify import enqueue
from handlers.render import bold, esc
from handlers.start import main_menu, role_label
from handlers.types import Choice, Incoming, Message, Reply

FLOW_NAME = "unit_changes"
GRANT = "ucg:"
UNIT = "ucu:"
ROLE = "ucr:"
GRANTABLE = (Role.OFFICER, Role.FORCE, Role.SUPERVISOR, Role.ADMIN)
MAX_MATCHES = 8


class Step(StrEnum):
    ASK_UNIT = "ask_unit"
    ASK_ROLE = "ask_role"


# --- the notice --------------------------------------------------------------------


async def notify_lost_roles(
    session: AsyncSession, ended: Sequence[tuple[MovedGrant, int]], now: dt.datetime
) -> int:
    """Queue one message per admin above the ended units; how many were queued."""
    if not ended:
        return 0
    unit_ids = sorted({unit_id for _grant, unit_id in ended})
    found = await session.execute(
        select(Unit.id, Unit.path, Unit.name).where(Unit.id.in_(unit_ids))
    )
    paths, names = {}, {}
    for uid, path, name in found.all():
        paths[uid], names[uid] = path, name
    stmt = (
        select(Identity, Unit.path)
        .join(RoleGrant, RoleGrant.member_id == Identity.member_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(
            RoleGrant.role == Role.ADMIN.value,
            RoleGrant.revoked_at.is_(None),
            Identity.blocked_at.is_(None),
        )
        .order_by(Identity.id)
    )
    told: dict[int, Identity] = {}
    lists: dict[int, list[tuple[MovedGrant, str]]] = defaultdict(list)
    for identity, admin_path in (await session.execute(stmt)).all():
        for grant, unit_id in ended:
            path = paths[unit_id]
            if path != admin_path and path.startswith(admin_path):
                if (grant, names[unit_id]) not in lists[identity.id]:
                    lists[identity.id].append((grant, names[unit_id]))
                told[identity.id] = identity
    queued = 0
    for identity_id, grants in lists.items():
        key_body = "|".join(f"{g.member_id}:{g.role}:{g.from_unit}" for g, _n in grants)
        digest = hashlib.sha256(key_body.encode()).hexdigest()[:32]
        queued += await enqueue(
            session,
            told[identity_id],
            lambda grants=grants: _notice(grants),  # type: ignore[misc]
            dedup_key=f"lost-roles:{identity_id}:{digest}",
        )
    return queued


def _notice(grants: list[tuple[MovedGrant, str]]) -> list[Message]:
    lines = [
        bold(_("Units have ended")),
        _("These people lost a role because their unit ended:"),
    ]
    for g, unit_name in grants:
        lines.append(
            "• "
            + _("{name}: {role} of {unit}").format(
                name=esc(g.member_name), role=role_label(Role(g.role)), unit=esc(unit_name)
            )
        )
    lines.append(_("Press a name to give that person a role in another unit."))
    seen: dict[int, str] = {}
    for g, _unit_name in grants:
        seen.setdefault(g.member_id, g.member_name)
    choices = [
        Choice(f"{GRANT}{mid}", _("Give {name} a role").format(name=name))
        for mid, name in seen.items()
    ]
    return [Message("\n".join(lines), choices=choices)]


# --- scope ---------------------------------------------------------------------------


def _is_admin(ctx: Context) -> bool:
    return ctx.has_role(Role.ADMIN)


async def _lost_role_in_scope(ctx: Context, member_id: int) -> bool:
    """True when the member has an ended grant on a unit inside the admin's subtree."""
    paths = [u.path for u in ctx.units_with(Role.ADMIN)]
    if not paths:
        return False
    stmt = select(
        exists().where(
            RoleGrant.member_id == member_id,
            RoleGrant.revoked_at.is_not(None),
            RoleGrant.unit_id == Unit.id,
            Unit.valid_to.is_not(None),
            or_(*(Unit.path.startswith(p, autoescape=True) for p in paths)),
        )
    )
    return bool(await ctx.session.scalar(stmt))


async def _member(ctx: Context) -> Member | None:
    member_id = ctx.data.get("member_id")
    if not isinstance(member_id, int) or not await _lost_role_in_scope(ctx, member_id):
        return None
    return await ctx.session.get(Member, member_id)


async def _refused(ctx: Context) -> Reply:
    ctx.finish()
    return await main_menu(ctx, _("That button is no longer valid."))


# --- the flow ------------------------------------------------------------------------


async def on_grant_button(ctx: Context, choice_id: str) -> Reply:
    """``ucg:<member>`` from the notice: start the flow (works in any state)."""
    rest = choice_id[len(GRANT) :]
    if not _is_admin(ctx) or not rest.isdigit():
        return await _refused(ctx)
    ctx.goto(FLOW_NAME, Step.ASK_UNIT, member_id=int(rest), units=[])
    if await _member(ctx) is None:
        return await _refused(ctx)
    return await ask_unit(ctx)


async def ask_unit(ctx: Context) -> Reply:
    member = await _member(ctx)
    if member is None:
        return await _refused(ctx)
    text = _("Which unit should {name} work for? Type its name or code.").format(
        name=bold(esc(member.full_name))
    )
    units = [int(u) for u in ctx.data.get("units", [])]
    choices = []
    for unit_id in units:
        unit = await by_id(ctx.session, unit_id)
        if unit is not None:
            choices.append(Choice(f"{UNIT}{unit.id}", unit.name))
    return [Message(text, choices=choices)]


def _open_in_scope(ctx: Context, unit: Unit | None) -> bool:
    return unit is not None and unit.valid_to is None and ctx.can_see(unit, Role.ADMIN)


async def on_unit(ctx: Context, inp: Incoming) -> Reply:
    if not _is_admin(ctx) or await _member(ctx) is None:
        return await _refused(ctx)
    if inp.choice is not None and inp.choice.startswith(UNIT):
        rest = inp.choice[len(UNIT) :]
        unit = await by_id(ctx.session, int(rest)) if rest.isdigit() else None
        if not _open_in_scope(ctx, unit):
            raise Invalid(_("That unit is outside your area."))
        assert unit is not None
        ctx.goto(FLOW_NAME, Step.ASK_ROLE, unit_id=unit.id)
        return await ask_role(ctx)
    query = (inp.text or "").strip()
    if not query:
        raise Invalid(_("Type the name or code of a unit."))
    exact = await by_code(ctx.session, query)
    found = (
        [exact] if exact is not None else list(await search_by_name(ctx.session, query, limit=50))
    )
    matches = [u for u in found if _open_in_scope(ctx, u)][:MAX_MATCHES]
    if not matches:
        raise Invalid(_("No open unit in your area matches “{query}”.").format(query=esc(query)))
    if len(matches) == 1:
        ctx.goto(FLOW_NAME, Step.ASK_ROLE, unit_id=matches[0].id)
        return await ask_role(ctx)
    ctx.update(units=[u.id for u in matches])
    return [
        Message(
            _("Several units match; choose one:"),
            choices=[Choice(f"{UNIT}{u.id}", u.name) for u in matches],
        )
    ]


def _role_choices() -> list[Choice]:
    return [Choice(f"{ROLE}{r.value}", role_label(r)) for r in GRANTABLE]


async def ask_role(ctx: Context) -> Reply:
    unit = await by_id(ctx.session, int(ctx.data.get("unit_id", 0)))
    member = await _member(ctx)
    if member is None or not _open_in_scope(ctx, unit):
        return await _refused(ctx)
    assert unit is not None
    text = _("Which role should {name} have in {unit}?").format(
        name=bold(esc(member.full_name)), unit=esc(unit.name)
    )
    return [Message(text, choices=_role_choices())]


async def on_role(ctx: Context, inp: Incoming) -> Reply:
    picked = choice_or_text(inp, _role_choices())
    if picked is None:
        raise Invalid(_("Please choose a role."))
    unit = await by_id(ctx.session, int(ctx.data.get("unit_id", 0)))
    member = await _member(ctx)
    if not _is_admin(ctx) or ctx.member is None or member is None or not _open_in_scope(ctx, unit):
        return await _refused(ctx)
    assert unit is not None
    role = Role(picked[len(ROLE) :])
    await grant_role(ctx.session, member.id, unit.id, role, granted_by=ctx.member.id)
    ctx.finish()
    done = _("Done: {name} is now {role} of {unit}.").format(
        name=esc(member.full_name), role=role_label(role), unit=esc(unit.name)
    )
    return await main_menu(ctx, done)


registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.ASK_UNIT: StepDef(prompt=ask_unit, handle=on_unit),
            Step.ASK_ROLE: StepDef(prompt=ask_role, handle=on_role),
        },
    )
)
registry.add_global_choice(GRANT, on_grant_button)
