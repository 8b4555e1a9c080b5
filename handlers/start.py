"""The main menu and the commands that work in every state: /start /menu /cancel /help /lang /me.

```mermaid
flowchart LR
    any((any state)) -- /start, /menu --> menu[main menu]
    any -- /cancel --> menu
    any -- /lang --> lang[choose language] --> menu
    any -- "/start inv_CODE" --> register
    any -- "/start tip_UNIT" --> tip
```
"""

from __future__ import annotations

from enum import StrEnum

from db.models import Role
from handlers.flow import (
    Context,
    Flow,
    Invalid,
    MenuEntry,
    StepDef,
    choice_or_text,
    menu_choices,
    registry,
)
from handlers.i18n import LANGUAGES, _, set_language
from handlers.render import bold, esc
from handlers.types import Choice, Incoming, Message, Reply, in_place

ROLE_LABELS = {
    Role.OFFICER: lambda: _("commune officer"),
    Role.FORCE: lambda: _("grassroots security force member"),
    Role.SUPERVISOR: lambda: _("supervisor"),
    Role.ADMIN: lambda: _("administrator"),
}
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


def role_label(role: Role) -> str:
    return ROLE_LABELS[role]()


async def main_menu(ctx: Context, intro: str | None = None, *, clear: bool = False) -> Reply:
    """The menu for the person's roles (citizens need no registration).

    ``clear`` takes away a location or contact keyboard the last step left under
    the chat: the note goes first, alone, carrying the removal (a message with
    buttons cannot also remove a keyboard).
    """
    text = intro or _("What would you like to do?")
    if clear:
        return [
            Message(text, remove_keyboard=True),
            Message(_("What would you like to do?"), choices=menu_choices(ctx)),
        ]
    return [Message(text, choices=menu_choices(ctx))]


def left_keyboard(ctx: Context) -> bool:
    """True when the current step shows a location or contact keyboard."""
    flow = registry.flows.get(ctx.flow or "")
    step = flow.steps.get(ctx.step or "") if flow else None
    return step is not None and step.reply_keyboard


MENU_BUTTON = "nav:menu"
CANCEL_BUTTON = "nav:cancel"


def menu_button() -> Choice:
    """A way back to the main menu from any list or question (nothing unsaved is kept)."""
    return Choice(MENU_BUTTON, _("« Menu"))


def cancel_button() -> Choice:
    """Stop the current flow from any of its steps, as /cancel does."""
    return Choice(CANCEL_BUTTON, _("Cancel"))


async def on_nav(ctx: Context, choice_id: str) -> Reply:
    if choice_id == CANCEL_BUTTON:
        return await global_command(ctx, "cancel", "")
    clear = left_keyboard(ctx)
    ctx.finish()
    reply = await main_menu(ctx, _("Main menu.") if clear else None, clear=clear)
    return reply if clear else in_place(reply)


# Buttons of a finished action, pressed again: what to say instead of a bare menu.
DONE_NOTES = {
    "tip:send": lambda: _("This tip has already been sent; nothing was sent twice."),
}


def stale_note(ctx: Context, inp: Incoming) -> str | None:
    """A note for a button of something already finished (e.g. "Send" tapped twice)."""
    if inp.choice is not None and inp.choice == ctx.data.get("done"):
        describe = DONE_NOTES.get(inp.choice)
        return describe() if describe else None
    return None


async def welcome(ctx: Context) -> Reply:
    name = esc(ctx.member.full_name if ctx.member else ctx.identity.display_name)
    greeting = (
        _(
            "Hello {name}! This is ANTT Bot of the all-people movement to protect "
            "national security."
        ).format(name=name)
        if name
        else _("Hello! This is ANTT Bot of the all-people movement to protect national security.")
    )
    emergency = _("In an emergency call 113 (police), 114 (fire), 115 (ambulance).")
    question = _("What would you like to do?")
    return await main_menu(ctx, f"{greeting}\n{emergency}\n\n{question}")


async def global_command(ctx: Context, command: str, args: str) -> Reply:
    if command == "start":
        for prefix, handler in registry.deep_links.items():
            if args.startswith(prefix):
                return await handler(ctx, args[len(prefix) :])
        ctx.finish()
        return await welcome(ctx)
    if command == "menu":
        clear = left_keyboard(ctx)
        ctx.finish()
        return await main_menu(ctx, _("Main menu.") if clear else None, clear=clear)
    if command == "cancel":
        was_busy = ctx.flow is not None
        clear = left_keyboard(ctx)
        ctx.finish()
        note = _("Cancelled. Nothing was saved.") if was_busy else _("Nothing to cancel.")
        return await main_menu(ctx, note, clear=clear)
    if command == "help":
        return [Message(help_text(ctx), choices=menu_choices(ctx))]
    if command == "lang":
        # The draft and the step are kept, to come back to once the language is chosen.
        back = {"flow": ctx.flow, "step": ctx.step, "data": dict(ctx.data)} if ctx.flow else None
        clear = left_keyboard(ctx)
        if ctx.flow == LANG_FLOW.name:
            back = ctx.data.get("back")
        ctx.goto(LANG_FLOW.name, Step.CHOOSE)
        ctx.conversation.data = {"back": back}
        reply = await ask_language(ctx)
        if back:
            kept = _("What you have entered so far is kept; you will come back to it.")
            reply.insert(0, Message(kept, remove_keyboard=clear))
        return reply
    raise ValueError(command)


async def open_menu_entry(ctx: Context, entry_id: str) -> Reply:
    for entry in registry.menu_for(ctx):
        if entry.id == entry_id:
            ctx.finish()
            return await entry.start(ctx)
    return await main_menu(ctx, _("That option is not available to you."))


def help_text(ctx: Context) -> str:
    """What this person can do, in the order of their menu (most used first)."""
    order = {m.id: m.order for m in registry.menu_for(ctx)}
    mine = []
    for name, describe in COMMAND_HELP.items():
        entry = COMMAND_MENU.get(name, name)
        if name in registry.commands and entry in order:
            later = bool(ctx.grants) and name in CITIZEN_COMMANDS  # their own work first
            mine.append((order[entry] + 1000 * later, name, describe))
    if ctx.member is not None and "me" in registry.commands:
        mine.append((999, "me", COMMAND_HELP["me"]))
    lines = [bold(_("ANTT Bot: how to use it"))]
    lines += [f"/{name}: {describe()}" for _order, name, describe in sorted(mine)]
    lines += [
        _("/menu: the main menu"),
        _("/cancel: stop what you are doing (nothing is saved)"),
        _("/lang: change the language"),
        _("In an emergency call 113 (police), 114 (fire), 115 (ambulance)."),
    ]
    return "\n".join(lines)


# Commands other modules register may describe themselves here.
COMMAND_HELP = {
    "me": lambda: _("your name, unit and roles"),
}
# The menu entry whose visibility (and place) a command shares; by default its own name.
COMMAND_MENU = {"tips": "tip_inbox", "status": "tip_status", "me": ""}
# What citizens do; people with a role see them after the commands of their work.
CITIZEN_COMMANDS = ("tip", "status")


class Step(StrEnum):
    CHOOSE = "choose"


def _language_choices() -> list[Choice]:
    return [Choice(f"lang:{code}", LANGUAGE_NAMES[code]) for code in LANGUAGES]


async def ask_language(ctx: Context) -> Reply:
    return [Message(_("Choose your language:"), choices=_language_choices(), columns=2)]


async def on_language(ctx: Context, inp: Incoming) -> Reply:
    picked = choice_or_text(inp, _language_choices())
    if picked is None:
        raise Invalid(_("Please choose one of the languages below."))
    ctx.identity.language = picked.split(":", 1)[1]
    set_language(ctx.identity.language)
    back = ctx.data.get("back")
    # Said in the language just chosen: the Vietnamese catalogue says "Vietnamese".
    note = _("Language set to English.")
    flow = registry.flows.get(back["flow"]) if back else None
    step = flow.steps.get(back["step"]) if flow and back else None
    if back and step is not None:
        ctx.conversation.flow = back["flow"]
        ctx.conversation.step = back["step"]
        ctx.conversation.data = dict(back["data"])
        return [Message(note + " " + _("Let us go on where you were.")), *await step.prompt(ctx)]
    ctx.finish()
    return await main_menu(ctx, note)


LANG_FLOW = registry.add_flow(
    Flow("lang", {Step.CHOOSE: StepDef(prompt=ask_language, handle=on_language)})
)


async def me(ctx: Context, args: str) -> Reply:
    lines = [bold(_("About you"))]
    if ctx.member is None:
        lines.append(
            _("You have not joined any unit; as a citizen you can send tips without registering.")
        )
    else:
        lines.append(_("Name: {name}").format(name=esc(ctx.member.full_name)))
        for grant in ctx.grants:
            lines.append(
                _("{role} of {unit}").format(role=role_label(grant.role), unit=esc(grant.unit.name))
            )
    lines.append(
        _("Language: {language}").format(
            language=LANGUAGE_NAMES.get(ctx.identity.language or "vi", "Tiếng Việt")
        )
    )
    return [Message("\n".join(lines), choices=menu_choices(ctx))]


registry.add_command("me", me)
registry.add_global_choice("nav:", on_nav)


async def _menu_language(ctx: Context) -> Reply:
    return await global_command(ctx, "lang", "")


async def _menu_help(ctx: Context) -> Reply:
    return await global_command(ctx, "help", "")


registry.add_menu(MenuEntry("lang", lambda: _("Language"), _menu_language, lambda c: True, 900))
registry.add_menu(MenuEntry("help", lambda: _("Help"), _menu_help, lambda c: True, 910))
