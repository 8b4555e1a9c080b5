"""Citizens subscribe to the announcements of their commune; no registration needed.

Anyone may subscribe (menu "Get announcements", ``/start sub_<unit code>`` from
a commune poster's QR code); the commune is found like the tip flow's place:
a shared location (the nearest commune) or its typed name (accent-insensitive).
Only the chat and the commune are kept (``db.subscriptions``). Every announcement
carries a "Stop receiving announcements" button (global prefix ``sub:``,
``sub:stop``); ``/stop`` does the same; a chat that blocked the bot is
unsubscribed by the outbox sender.

```mermaid
flowchart TD
    start(["menu 'Get announcements' or /subscribe"]) --> place[PLACE: location or typed name]
    deep(["/start sub_UNIT"]) --> saved
    place -- one commune --> saved[(subscription)]
    place -- several --> pick[buttons sbp:id] --> saved
    place -- "bad input: hint" --> place
    saved --> menu([menu])
    stop(["sub:stop button or /stop"]) --> ended[(subscriptions deleted)] --> menu
```
"""

from __future__ import annotations

from enum import StrEnum

from db import subscriptions as repo
from db.models import COMMUNE_LEVEL, Unit
from db.tips import current_unit, nearest_unit
from db.units import by_code, by_id, search_by_name
from handlers.flow import Context, Flow, Invalid, MenuEntry, StepDef, menu_choices, registry
from handlers.i18n import _
from handlers.render import bold, esc
from handlers.start import COMMAND_HELP
from handlers.types import Choice, Incoming, Message, Reply

FLOW_NAME = "subscribe"
P = "sub:"  # global: the button under announcements
STOP = f"{P}stop"
PICK = "sbp:"  # inside the flow: one of several communes of that name
COMMUNE_KINDS = [k.value for k in COMMUNE_LEVEL]


class Step(StrEnum):
    PLACE = "place"


def stop_choice() -> Choice:
    """The button under every announcement to citizens."""
    return Choice(STOP, _("Stop receiving announcements"))


async def begin(ctx: Context) -> Reply:
    ctx.finish()
    ctx.goto(FLOW_NAME, Step.PLACE)
    reply = await ask_place(ctx)
    units = await repo.units_of(ctx.session, ctx.identity.id)
    if units:
        names = ", ".join(esc(u.name) for u in units)
        reply.insert(
            0,
            Message(
                _("You already receive the announcements of: {units}.").format(units=names),
                choices=[stop_choice()],
            ),
        )
    return reply


async def ask_place(ctx: Context) -> Reply:
    return [
        Message(
            _(
                "Which commune or ward do you want announcements from? Type its name "
                "(for example: Nam Giang) or share your location."
            )
        ),
        Message(
            _("To share where you are now, tap the button below."),
            request="location",
            request_label=_("Share my location"),
        ),
    ]


async def _choice_unit(ctx: Context, choice: str) -> Unit | None:
    raw = choice[len(f"{PICK}") :]
    if not raw.isdigit():
        return None
    unit = await by_id(ctx.session, int(raw))
    if unit is None or unit.valid_to is not None:
        return None
    return unit


async def on_place(ctx: Context, inp: Incoming) -> Reply:
    if inp.location is not None:
        lat, lon = inp.location.lat, inp.location.lon
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Invalid(_("That location could not be read. Please try again."))
        found = await nearest_unit(ctx.session, lat, lon)
        if found is None:
            raise Invalid(_("No commune is set up yet. Please try again later."))
        return await _subscribed(ctx, found[0])
    if inp.choice and inp.choice.startswith(f"{PICK}"):
        unit = await _choice_unit(ctx, inp.choice)
        if unit is None:
            raise Invalid(_("That place is not available; please choose again."))
        return await _subscribed(ctx, unit)
    text = (inp.text or "").strip()
    if not text or inp.choice:
        raise Invalid(_("Type the name of the commune or share your location."))
    if len(text) > 100:
        raise Invalid(_("That is too long for a place name."))
    found_units = await search_by_name(ctx.session, text, kinds=COMMUNE_KINDS, limit=8)
    if not found_units:
        hint = _('No commune or ward is called "{name}". Check the spelling and type it again.')
        raise Invalid(hint.format(name=esc(text)))
    if len(found_units) == 1:
        return await _subscribed(ctx, found_units[0])
    choices = []
    for unit in found_units:
        parent = await by_id(ctx.session, unit.parent_id) if unit.parent_id else None
        label = f"{unit.name} ({parent.name})" if parent is not None else unit.name
        choices.append(Choice(f"{PICK}{unit.id}", label))
    return [Message(_("Which one do you mean?"), choices=choices)]


async def _subscribed(ctx: Context, unit: Unit) -> Reply:
    new = await repo.subscribe(ctx.session, ctx.identity.id, unit.id, ctx.now)
    ctx.finish()
    lead = (
        _("Done: you will receive the announcements of {unit}.")
        if new
        else _("You already receive the announcements of {unit}.")
    ).format(unit=bold(esc(unit.name)))
    how = _('To stop, press "Stop receiving announcements" under any of them, or send /stop.')
    return [Message(f"{lead}\n{how}", choices=menu_choices(ctx), remove_keyboard=True)]


async def deep_link(ctx: Context, rest: str) -> Reply:
    """``/start sub_<unit code>``: the subscription QR code of a commune's poster."""
    unit = await by_code(ctx.session, rest) or await by_code(ctx.session, rest.lower())
    if unit is not None:
        unit = await current_unit(ctx.session, unit)
    if unit is None or unit.valid_to is not None:
        reply = await begin(ctx)
        return [Message(_("The commune of this link was not found; please choose it.")), *reply]
    return await _subscribed(ctx, unit)


async def stop(ctx: Context, args: str = "") -> Reply:
    """``/stop`` or the button under an announcement: end every subscription of the chat."""
    ended = await repo.unsubscribe(ctx.session, ctx.identity.id)
    if ctx.flow == FLOW_NAME:
        ctx.finish()
    text = (
        _("You will no longer receive announcements. You can subscribe again from the menu.")
        if ended
        else _("You are not subscribed to any announcements.")
    )
    return [Message(text, choices=menu_choices(ctx))]


async def _global(ctx: Context, choice: str) -> Reply:
    if choice == STOP:
        return await stop(ctx)
    return [Message(_("That button has expired."), choices=menu_choices(ctx))]


async def _menu_start(ctx: Context) -> Reply:
    return await begin(ctx)


async def _command(ctx: Context, args: str) -> Reply:
    return await begin(ctx)


FLOW = registry.add_flow(
    Flow(FLOW_NAME, {Step.PLACE: StepDef(prompt=ask_place, handle=on_place, accepts_media=True)})
)
registry.add_menu(
    MenuEntry("sub", lambda: _("Get announcements"), _menu_start, lambda c: not c.grants, 20)
)
registry.add_command("subscribe", _command)
registry.add_command("stop", stop)
registry.add_global_choice(P, _global)
registry.add_deep_link("sub_", deep_link)
COMMAND_HELP["subscribe"] = lambda: _("receive the announcements of a commune")
COMMAND_HELP["stop"] = lambda: _("stop receiving announcements")
