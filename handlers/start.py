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
from db.units import by_id
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
from handlers.types import Choice, Incoming, Message, Reply

ROLE_LABELS = {
    Role.OFFICER: lambda: _("commune officer"),
    Role.FORCE: lambda: _("grassroots security force member"),
    Role.SUPERVISOR: lambda: _("supervisor"),
    Role.ADMIN: lambda: _("administrator"),
}
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


def role_label(role: Role) -> str:
    return ROLE_LABELS[role]()


async def main_menu(ctx: Context, intro: str | None = None) -> Reply:
    """The menu for the person's roles (citizens need no registration)."""
    text = intro or _("What would you like to do?")
    return [Message(text, choices=menu_choices(ctx))]


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
        ctx.finish()
        return await main_menu(ctx)
    if command == "cancel":
        was_busy = ctx.flow is not None
        ctx.finish()
        note = _("Cancelled. Nothing was saved.") if was_busy else _("Nothing to cancel.")
        return await main_menu(ctx, note)
    if command == "help":
        return [Message(help_text(ctx), choices=menu_choices(ctx))]
    if command == "lang":
        ctx.goto(LANG_FLOW.name, Step.CHOOSE, back_flow=ctx.flow, back_step=ctx.step)
        return await ask_language(ctx)
    raise ValueError(command)


async def open_menu_entry(ctx: Context, entry_id: str) -> Reply:
    for entry in registry.menu_for(ctx):
        if entry.id == entry_id:
            ctx.finish()
            return await entry.start(ctx)
    return await main_menu(ctx, _("That option is not available to you."))


def help_text(ctx: Context) -> str:
    lines = [
        bold(_("ANTT Bot: how to use it")),
        _("/menu: the main menu"),
        _("/cancel: stop what you are doing (nothing is saved)"),
        _("/lang: change the language"),
    ]
    for name in sorted(registry.commands):
        describe = COMMAND_HELP.get(name)
        if describe is not None:
            lines.append(f"/{name}: {describe()}")
    lines.append(_("In an emergency call 113 (police), 114 (fire), 115 (ambulance)."))
    return "\n".join(lines)


# Commands other modules register may describe themselves here.
COMMAND_HELP = {
    "me": lambda: _("your name, unit and roles"),
}


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
    ctx.finish()
    # Said in the language just chosen: the Vietnamese catalogue says "Vietnamese".
    return await main_menu(ctx, _("Language set to English."))


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
            unit = await by_id(ctx.session, grant.unit.id)
            lines.append(
                _("{role} of {unit}").format(
                    role=role_label(grant.role), unit=esc(unit.name if unit else "?")
                )
            )
    lines.append(
        _("Language: {language}").format(
            language=LANGUAGE_NAMES.get(ctx.identity.language or "vi", "Tiếng Việt")
        )
    )
    return [Message("\n".join(lines), choices=menu_choices(ctx))]


registry.add_command("me", me)


async def _menu_language(ctx: Context) -> Reply:
    return await global_command(ctx, "lang", "")


async def _menu_help(ctx: Context) -> Reply:
    return await global_command(ctx, "help", "")


registry.add_menu(MenuEntry("lang", lambda: _("Language"), _menu_language, lambda c: True, 900))
registry.add_menu(MenuEntry("help", lambda: _("Help"), _menu_help, lambda c: True, 910))
