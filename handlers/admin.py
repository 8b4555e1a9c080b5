"""Members and roles, for admins: list the members of one's subtree, open a card, revoke a role.

Scope is checked on every update against the admin's current grants, never
against what was shown: a button id (``adm:m:<member>``, ``adm:r:<grant>``) is
only a request, so a forged or stale id outside the subtree is refused. A card
shows only the grants inside the admin's subtree; a revoke is audited with the
admin as actor (``db.members.revoke_role``).

```mermaid
flowchart TD
    menu[menu: Members] --> list[LIST: 10 per page]
    list -- next / previous --> list
    list -- member --> scope{in my subtree?}
    scope -- no --> list
    scope -- yes --> card[CARD: name, roles with units]
    card -- back --> list
    card -- revoke role --> check{grant in my subtree?}
    check -- no --> card
    check -- yes --> confirm[CONFIRM_REVOKE]
    confirm -- yes --> revoke[revoke_role + audit] --> card
    confirm -- no --> card
    list -- close --> main[main menu]
```
"""

from __future__ import annotations

import math
from enum import StrEnum

from sqlalchemy import ColumnElement, func, or_, select

from db.members import Grant, active_grants, revoke_role
from db.models import Member, Role, RoleGrant, Unit
from db.units import in_subtree
from handlers.flow import Context, Flow, Invalid, MenuEntry, StepDef, choice_or_text, registry
from handlers.i18n import _, ngettext
from handlers.render import bold, esc
from handlers.start import main_menu, role_label
from handlers.types import Choice, Incoming, Message, Reply

FLOW_NAME = "admin"
PAGE_SIZE = 10

MEMBER = "adm:m:"
REVOKE = "adm:r:"
NEXT = "adm:next"
PREV = "adm:prev"
BACK = "adm:back"
CLOSE = "adm:close"
YES = "adm:yes"
NO = "adm:no"


class Step(StrEnum):
    LIST = "list"
    CARD = "card"
    CONFIRM_REVOKE = "confirm_revoke"


# --- scope -----------------------------------------------------------------


def _is_admin(ctx: Context) -> bool:
    return ctx.has_role(Role.ADMIN)


def _scope(ctx: Context) -> ColumnElement[bool]:
    """Units inside any subtree the person administers."""
    return or_(*(in_subtree(u.path) for u in ctx.units_with(Role.ADMIN)))


def _members_in_scope(ctx: Context):  # type: ignore[no-untyped-def]
    """Ids of members with an active grant on a unit inside the admin's subtree."""
    return (
        select(RoleGrant.member_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.revoked_at.is_(None), _scope(ctx))
        .distinct()
    )


async def _visible_grants(ctx: Context, member_id: int) -> list[Grant]:
    """The member's active grants that lie inside the admin's subtree."""
    grants = await active_grants(ctx.session, member_id)
    return [g for g in grants if ctx.can_see(g.unit, Role.ADMIN)]


async def _no_longer_admin(ctx: Context) -> Reply:
    ctx.finish()
    return await main_menu(ctx, _("That option is not available to you."))


def _picked(inp: Incoming, options: list[Choice]) -> str | None:
    """A pressed id as sent (checked against the scope later, not against what was shown);
    typed text or a number matched against the options on screen."""
    if inp.choice is not None:
        return inp.choice
    return choice_or_text(inp, options)


def _id_after(prefix: str, picked: str) -> int | None:
    rest = picked[len(prefix) :]
    return int(rest) if rest.isdigit() else None


# --- the list -------------------------------------------------------------------


async def _page(ctx: Context) -> tuple[list[tuple[int, str]], int, int]:
    """(members on the current page, total, page count); the page is clamped."""
    in_scope = _members_in_scope(ctx).subquery()
    total = (await ctx.session.scalar(select(func.count()).select_from(in_scope))) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(int(ctx.data.get("page", 0)), 0), pages - 1)
    ctx.update(page=page)
    rows = (
        await ctx.session.execute(
            select(Member.id, Member.full_name)
            .where(Member.id.in_(select(in_scope.c.member_id)))
            .order_by(Member.full_name, Member.id)
            .offset(page * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    ).all()
    return [(mid, name) for mid, name in rows], total, pages


async def _list_choices(ctx: Context) -> tuple[list[Choice], int, int]:
    rows, total, pages = await _page(ctx)
    choices = [Choice(f"{MEMBER}{mid}", name or "?") for mid, name in rows]
    page = ctx.data["page"]
    if page > 0:
        choices.append(Choice(PREV, _("« Previous")))
    if page < pages - 1:
        choices.append(Choice(NEXT, _("Next »")))
    choices.append(Choice(CLOSE, _("Close")))
    return choices, total, pages


async def show_list(ctx: Context) -> Reply:
    choices, total, pages = await _list_choices(ctx)
    if total == 0:
        text = _("There are no members in your units yet.")
    else:
        text = "\n".join(
            [
                bold(
                    ngettext(
                        "{count} member in your units",
                        "{count} members in your units",
                        total,
                    ).format(count=total)
                ),
                _("Page {page} of {pages}. Choose a member to see their roles.").format(
                    page=ctx.data["page"] + 1, pages=pages
                ),
            ]
        )
    return [Message(text, choices=choices)]


async def on_list(ctx: Context, inp: Incoming) -> Reply:
    if not _is_admin(ctx):
        return await _no_longer_admin(ctx)
    choices, _total, _pages = await _list_choices(ctx)
    picked = _picked(inp, choices)
    if picked == CLOSE:
        ctx.finish()
        return await main_menu(ctx)
    if picked in (NEXT, PREV):
        ctx.update(page=ctx.data["page"] + (1 if picked == NEXT else -1))
        return await show_list(ctx)
    if picked is not None and picked.startswith(MEMBER):
        member_id = _id_after(MEMBER, picked)
        if member_id is not None and await _visible_grants(ctx, member_id):
            ctx.goto(FLOW_NAME, Step.CARD, member_id=member_id)
            return await show_card(ctx)
        raise Invalid(_("That member is not in your units."))
    raise Invalid(_("Please choose a member from the list."))


# --- the card -------------------------------------------------------------------


def _grant_text(grant: Grant) -> str:
    return _("{role} of {unit}").format(role=role_label(grant.role), unit=esc(grant.unit.name))


def _card_choices(ctx: Context, grants: list[Grant]) -> list[Choice]:
    choices = [
        Choice(
            f"{REVOKE}{g.grant_id}",
            _("Revoke: {role} of {unit}").format(role=role_label(g.role), unit=g.unit.name),
        )
        for g in grants
    ]
    choices.append(Choice(BACK, _("Back to the list")))
    return choices


async def show_card(ctx: Context) -> Reply:
    member_id = int(ctx.data["member_id"])
    member = await ctx.session.get(Member, member_id)
    grants = await _visible_grants(ctx, member_id)
    if member is None or not grants:
        ctx.goto(FLOW_NAME, Step.LIST)
        return [Message(_("That member is not in your units.")), *await show_list(ctx)]
    lines = [bold(esc(member.full_name or "?")), _("Roles in your units:")]
    lines += [f"• {_grant_text(g)}" for g in grants]
    return [Message("\n".join(lines), choices=_card_choices(ctx, grants))]


async def on_card(ctx: Context, inp: Incoming) -> Reply:
    if not _is_admin(ctx):
        return await _no_longer_admin(ctx)
    member_id = int(ctx.data["member_id"])
    grants = await _visible_grants(ctx, member_id)
    picked = _picked(inp, _card_choices(ctx, grants))
    if picked == BACK:
        ctx.goto(FLOW_NAME, Step.LIST)
        return await show_list(ctx)
    if picked is not None and picked.startswith(REVOKE):
        grant_id = _id_after(REVOKE, picked)
        grant = next((g for g in grants if g.grant_id == grant_id), None)
        if grant is None:
            raise Invalid(_("You cannot revoke that role."))
        if ctx.member is not None and member_id == ctx.member.id and grant.role is Role.ADMIN:
            raise Invalid(_("You cannot revoke your own administrator role."))
        ctx.goto(FLOW_NAME, Step.CONFIRM_REVOKE, grant_id=grant.grant_id)
        return await ask_revoke(ctx)
    raise Invalid(_("Please choose a role to revoke, or go back to the list."))


# --- revoking -------------------------------------------------------------------


async def _grant_to_revoke(ctx: Context) -> tuple[Member, Grant] | None:
    """The grant being revoked, if it is still active and still inside the admin's subtree."""
    member = await ctx.session.get(Member, int(ctx.data["member_id"]))
    if member is None:
        return None
    grants = await _visible_grants(ctx, member.id)
    grant = next((g for g in grants if g.grant_id == ctx.data.get("grant_id")), None)
    return (member, grant) if grant is not None else None


def _revoke_choices() -> list[Choice]:
    return [Choice(YES, _("Yes, revoke")), Choice(NO, _("No, go back"))]


async def ask_revoke(ctx: Context) -> Reply:
    found = await _grant_to_revoke(ctx)
    if found is None:
        ctx.goto(FLOW_NAME, Step.CARD)
        return await show_card(ctx)
    member, grant = found
    text = _("Revoke the role {role} of {unit} from {name}?").format(
        role=role_label(grant.role), unit=esc(grant.unit.name), name=bold(esc(member.full_name))
    )
    return [Message(text, choices=_revoke_choices())]


async def on_revoke(ctx: Context, inp: Incoming) -> Reply:
    if not _is_admin(ctx) or ctx.member is None:
        return await _no_longer_admin(ctx)
    picked = choice_or_text(inp, _revoke_choices())
    if picked == NO:
        ctx.goto(FLOW_NAME, Step.CARD, grant_id=None)
        return await show_card(ctx)
    if picked != YES:
        raise Invalid(_("Please answer Yes or No."))
    found = await _grant_to_revoke(ctx)
    ctx.goto(FLOW_NAME, Step.CARD, grant_id=None)
    if found is None:
        return [Message(_("That role is no longer active.")), *await show_card(ctx)]
    member, grant = found
    await revoke_role(
        ctx.session,
        member.id,
        grant.unit.id,
        grant.role,
        revoked_by=ctx.member.id,
        now=ctx.now,
    )
    done = _("Revoked: {name} is no longer {role} of {unit}.").format(
        name=esc(member.full_name), role=role_label(grant.role), unit=esc(grant.unit.name)
    )
    if not await _visible_grants(ctx, member.id):
        ctx.goto(FLOW_NAME, Step.LIST)
        return [Message(done), *await show_list(ctx)]
    return [Message(done), *await show_card(ctx)]


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.LIST: StepDef(prompt=show_list, handle=on_list),
            Step.CARD: StepDef(prompt=show_card, handle=on_card),
            Step.CONFIRM_REVOKE: StepDef(prompt=ask_revoke, handle=on_revoke),
        },
    )
)


async def start_members(ctx: Context) -> Reply:
    ctx.goto(FLOW_NAME, Step.LIST, page=0)
    return await show_list(ctx)


registry.add_menu(MenuEntry("members", lambda: _("Members"), start_members, _is_admin, 700))
