"""Flows as explicit step tables, the per-update context, and the registry the engine reads.

A flow module declares its steps and registers them::

    class Step(StrEnum):
        ASK_CODE = "ask_code"

    FLOW = Flow("register", {Step.ASK_CODE: StepDef(prompt=ask_code, handle=on_code)})
    registry.add_flow(FLOW)

``prompt(ctx)`` renders the step's question (used again after bad input, and to
resume); ``handle(ctx, inp)`` consumes the input and returns the reply, moving on
with ``ctx.goto(...)`` or ``ctx.finish()``; raising ``Invalid(hint)`` sends the
hint and the same question again, with nothing written.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from db.conversations import ConversationRecord, IdentityRecord
from db.members import Grant, MemberRecord, UnitRecord
from db.models import Role, Unit
from db.sealed import open_time
from handlers.types import Choice, Incoming, Message, Reply

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Settings
    from db.update_tx import UpdateTx


class Invalid(Exception):
    """The input does not fit the current step; ``str(self)`` is the (translated) hint."""


@dataclass
class Context:
    """Everything a step may use while handling one update (inside its transaction)."""

    tx: UpdateTx  # the update's transaction; ``session`` is the ORM on it
    settings: Settings
    identity: IdentityRecord
    member: MemberRecord | None
    grants: list[Grant]
    conversation: ConversationRecord
    now: dt.datetime
    incoming: Incoming
    # Messages to put before the reply (e.g. "your last conversation timed out").
    preface: list[Message] = field(default_factory=list)

    @functools.cached_property
    def previous_at(self) -> dt.datetime | None:
        """The time of the person's update before this one (for the idle check), if
        known: opened from its sealed copy only when asked (a menu never asks)."""
        return open_time(self.settings, self.conversation.touched_before)

    @property
    def session(self) -> AsyncSession:
        """The ORM session of the update's transaction (made when first used)."""
        return self.tx.session

    # --- state -----------------------------------------------------------
    @property
    def flow(self) -> str | None:
        return self.conversation.flow

    @property
    def step(self) -> str | None:
        return self.conversation.step

    @property
    def data(self) -> dict[str, Any]:
        return self.conversation.data

    def goto(self, flow: str, step: str, **data: Any) -> None:
        """Move to ``flow``/``step``; when entering another flow, data starts afresh."""
        if flow != self.conversation.flow:
            self._set(data={})
        self._set(flow=flow, step=step)
        if data:
            self.update(**data)

    def update(self, **data: Any) -> None:
        # A new dict, so the engine sees the change (it compares with the state before).
        self._set(data={**self.conversation.data, **data})

    def finish(self) -> None:
        self._set(flow=None, step=None, data={})

    def _set(self, **values: Any) -> None:
        """Assign only what changes (the engine writes the state only when it changed)."""
        conversation = self.conversation
        for name, value in values.items():
            if getattr(conversation, name) != value:
                setattr(conversation, name, value)

    # --- who is this -----------------------------------------------------
    def has_role(self, *roles: Role) -> bool:
        return any(g.role in roles for g in self.grants)

    def units_with(self, *roles: Role) -> list[Unit]:
        """Units over which the person holds one of ``roles`` (the roots of their scope)."""
        seen: dict[int, UnitRecord] = {}
        for g in self.grants:
            if g.role in roles:
                seen.setdefault(g.unit.id, g.unit)
        return [unit.as_unit() for unit in seen.values()]

    def can_see(self, unit: Unit | UnitRecord, *roles: Role) -> bool:
        """True when ``unit`` lies under a unit where the person holds one of ``roles``."""
        wanted = roles or tuple(Role)
        return any(g.role in wanted and unit.path.startswith(g.unit.path) for g in self.grants)


Prompt = Callable[[Context], Awaitable[Reply]]
Handle = Callable[[Context, Incoming], Awaitable[Reply]]


@dataclass(frozen=True)
class StepDef:
    prompt: Prompt
    handle: Handle
    # Inputs a step accepts besides text and button presses (location, contact, media).
    accepts_media: bool = False
    # The step leaves a location or contact keyboard under the chat (removed on leaving).
    reply_keyboard: bool = False


@dataclass(frozen=True)
class Flow:
    name: str
    steps: dict[str, StepDef]


@dataclass(frozen=True)
class MenuEntry:
    """A main-menu button; shown when ``visible(ctx)`` is true, in ``order``."""

    id: str
    label: Callable[[], str]  # translated at render time
    start: Callable[[Context], Awaitable[Reply]]
    visible: Callable[[Context], bool]
    order: int = 100


CommandHandler = Callable[[Context, str], Awaitable[Reply]]


@dataclass
class Registry:
    """Flows, menu entries and commands, filled by the flow modules at import."""

    flows: dict[str, Flow] = field(default_factory=dict)
    menu: list[MenuEntry] = field(default_factory=list)
    commands: dict[str, CommandHandler] = field(default_factory=dict)
    # Choice-id prefixes that work in any state (e.g. the buttons of a notification).
    global_choices: dict[str, Callable[[Context, str], Awaitable[Reply]]] = field(
        default_factory=dict
    )

    # "/start <prefix><rest>" deep links, e.g. "inv_" (invites) and "tip_" (tip posters).
    deep_links: dict[str, CommandHandler] = field(default_factory=dict)

    def add_flow(self, flow: Flow) -> Flow:
        self.flows[flow.name] = flow
        return flow

    def add_menu(self, entry: MenuEntry) -> None:
        self.menu = sorted(
            [*(m for m in self.menu if m.id != entry.id), entry], key=lambda m: m.order
        )

    def add_command(self, name: str, handler: CommandHandler) -> None:
        self.commands[name] = handler

    def add_global_choice(
        self, prefix: str, handler: Callable[[Context, str], Awaitable[Reply]]
    ) -> None:
        self.global_choices[prefix] = handler

    def add_deep_link(self, prefix: str, handler: CommandHandler) -> None:
        self.deep_links[prefix] = handler

    def menu_for(self, ctx: Context) -> list[MenuEntry]:
        return [m for m in self.menu if m.visible(ctx)]


registry = Registry()


MENU_PREFIX = "m:"


def menu_choices(ctx: Context) -> list[Choice]:
    return [Choice(MENU_PREFIX + m.id, m.label()) for m in registry.menu_for(ctx)]


def choice_or_text(inp: Incoming, options: Sequence[Choice]) -> str | None:
    """The id chosen by a button, by its number ("2"), or by typing its label."""
    if inp.choice is not None:
        return inp.choice if any(c.id == inp.choice for c in options) else None
    text = (inp.text or "").strip()
    if not text:
        return None
    # ASCII digits only: "²".isdigit() is true, but int("²") raises.
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1].id
    from db.units import fold

    folded = fold(text)
    for c in options:
        if fold(c.label) == folded:
            return c.id
    return None
