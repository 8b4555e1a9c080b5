"""The conversation engine: Incoming -> one transaction -> Reply.

Per update, in one transaction: get or create the person's identity, lock their
conversation row (two quick taps by one person run in order; different people
run concurrently), record the update id (a redelivered update is skipped), run
the global command or the current step, save the next state, commit. The reply
is returned only after the commit, so what a person is told is saved, is saved.

While the database cannot be reached, an update is held and tried again with a
backoff until it is handled (the channels keep one person's updates in order
behind it; other people's go on). ``patience`` bounds the hold for a caller that
can have the update redelivered instead (a webhook): ``StoreUnavailable`` is
raised and nothing was stored. A person held longer than ``busy_notice_seconds``
is told once that their message is kept (``on_hold``). ``on_held`` is called when an
update's first try finds the database unreachable, and ``holding`` says whether any
update is held now: a channel that has confirmed its updates already (polling) puts
them on disk then, and only then.

Dispatch order: global commands (/start /menu /cancel /help /lang), other
registered commands, main-menu buttons and global buttons, then the current
step; with no current step, the main menu.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import importlib
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.config import Settings
from bot.health import Backoff, describe
from db.conversations import open_update, save_state
from db.models import utcnow
from db.outage import is_outage
from db.session import Database
from db.update_tx import UpdateTx
from handlers.flow import MENU_PREFIX, Context, Invalid, registry
from handlers.i18n import _, pick_language, set_language
from handlers.types import Incoming, Message, Reply

log = logging.getLogger(__name__)

# Flow modules, in the order their menu entries and commands are registered.
FLOW_MODULES = (
    "start",
    "register",
    "admin",
    "checkin",
    "progress",
    "recognitions",
    "reports",
    "evaluation",
    "tip",
    "subscribe",
    "tip_status",
    "triage",
    "digest",
    "broadcast",
    "reminders",
    "unit_changes",
)
GLOBAL_COMMANDS = ("start", "menu", "cancel", "help", "lang")
RETRIES = 3
MAX_ID = 2**63 - 1  # PostgreSQL bigint
OnHold = Callable[[Reply], Awaitable[None]]
OnHeld = Callable[[], None]
# A person's state: the conversation's flow, step and data, and the identity's language.
State = tuple[str | None, str | None, dict[str, object], str | None]
# Conversation data kept while a person's messages arrive unsupported (see _unsupported).
UNSUPPORTED_STREAK = "unsupported_streak"
TOLD_OTHER_WAYS = "told_other_ways"


class StoreUnavailable(Exception):
    """The database could not be reached in time: the update was not handled, nothing stored."""


def load_flows() -> None:
    """Import every flow module that exists, so it registers itself."""
    for name in FLOW_MODULES:
        try:
            importlib.import_module(f"handlers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"handlers.{name}":
                raise


def _is_transient(exc: DBAPIError) -> bool:
    """A dropped connection, a deadlock or a serialization failure: worth a retry."""
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return code in {"40001", "40P01", "57P01", "08006", "08003"}


def bounded_ids(inp: Incoming) -> Incoming:
    """``inp`` with every number in its callback data that no bigint id can have made 0.

    Ids start at 1, so such a choice gets the same "not found" as any unknown id
    instead of an overflow in the database.
    """
    if inp.choice is None:
        return inp
    parts = inp.choice.split(":")
    bounded = ["0" if p.isdigit() and int(p) > MAX_ID else p for p in parts]
    return inp if bounded == parts else dataclasses.replace(inp, choice=":".join(bounded))


class Engine:
    """Turns updates into replies; channel-agnostic."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._held_since: dict[tuple[str, str], float] = {}  # person -> first failed try
        self._told: set[tuple[str, str]] = set()  # told "busy" during this hold
        self._holding = 0  # updates held now
        self._closing = asyncio.Event()
        load_flows()

    def close(self) -> None:
        """Stop holding updates: those still held raise ``StoreUnavailable`` now."""
        self._closing.set()

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    @property
    def holding(self) -> bool:
        """Whether some update is held now (found the database unreachable, not yet handled)."""
        return self._holding > 0

    async def handle(
        self,
        inp: Incoming,
        *,
        patience: float | None = None,
        on_hold: OnHold | None = None,
        on_held: OnHeld | None = None,
    ) -> Reply:
        """Handle one update, never doubled; held through a database outage (see above)."""
        person = (inp.channel, inp.user_id)
        backoff = Backoff(first=0.2, cap=self.settings.update_retry_max_seconds)
        started = time.monotonic()
        conflicts = 0
        held = False
        try:
            while True:
                try:
                    reply = await self._handle_once(inp)
                except Exception as exc:
                    if is_outage(exc):
                        if not held:
                            held = True
                            self._holding += 1
                            if on_held is not None:
                                on_held()
                        await self._hold(inp, exc, backoff.next(), started, patience, on_hold)
                        continue
                    conflicts += 1
                    if isinstance(exc, DBAPIError) and _is_transient(exc) and conflicts < RETRIES:
                        log.warning("update %s: transient database error, retry", inp.update_id)
                        await asyncio.sleep(0.05 * conflicts)
                        continue
                    log.exception("update %s failed", inp.update_id)
                    return [Message(_("Sorry, something went wrong. Please try again."))]
                if self._held_since.pop(person, None) is not None:
                    self._told.discard(person)
                    log.info("update %s:%s handled after the outage", inp.channel, inp.update_id)
                return reply
        finally:
            if held:
                self._holding -= 1

    async def _hold(
        self,
        inp: Incoming,
        exc: Exception,
        delay: float,
        started: float,
        patience: float | None,
        on_hold: OnHold | None,
    ) -> None:
        """Wait ``delay`` before the next try, or raise ``StoreUnavailable``."""
        person = (inp.channel, inp.user_id)
        now = time.monotonic()
        since = self._held_since.setdefault(person, now)
        if self._closing.is_set() or (patience is not None and now + delay - started > patience):
            log.warning("update %s:%s not stored: %s", inp.channel, inp.update_id, describe(exc))
            raise StoreUnavailable(describe(exc)) from exc
        log.warning(
            "update %s:%s held, database unreachable (%s); again in %.1f s",
            inp.channel,
            inp.update_id,
            describe(exc),
            delay,
        )
        if (
            on_hold is not None
            and person not in self._told
            and now - since >= self.settings.busy_notice_seconds
        ):
            self._told.add(person)
            set_language(pick_language(inp.language_code))
            notice = _("The system is busy. Your message is kept and will be answered shortly.")
            try:
                await on_hold([Message(notice)])
            except Exception as error:  # the notice is a courtesy: the update stays held
                log.warning("busy notice to %s not sent: %s", inp.user_id, describe(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay)

    async def _handle_once(self, inp: Incoming) -> Reply:
        inp = bounded_ids(inp)
        async with UpdateTx(self.db) as tx:
            opened = await self._open(tx, inp)
            if opened is None:
                return []
            ctx, before = opened
            try:
                reply = await self._dispatch(ctx, inp)
            except Invalid as bad:
                # Nothing the step wrote may stay: the whole transaction goes, and a new
                # one records the update and asks the same question again. (Bad input is
                # rare; a savepoint around every step cost two round trips per update.)
                await tx.rollback()
                opened = await self._open(tx, inp)
                if opened is None:
                    return []
                ctx, before = opened
                reply = await self._again(ctx, str(bad))
            except Exception:
                log.exception("update %s:%s failed in %s", inp.channel, inp.update_id, ctx.flow)
                return [Message(_("Sorry, something went wrong. Please try again."))]
            await self._save_state(ctx, before)
            await tx.commit()
        return ctx.preface + reply

    async def _open(self, tx: UpdateTx, inp: Incoming) -> tuple[Context, State] | None:
        """Open the update in ``tx``: its context and the person's state as it stands,
        or None when the update was handled before."""
        now = self.clock()
        opened = await open_update(
            tx,
            inp.channel,
            inp.user_id,
            update_id=inp.update_id,
            chat_id=inp.chat_id,
            display_name=inp.display_name,
            language=pick_language(inp.language_code),
            now=now,
            settings=self.settings,
        )
        if not opened.fresh:
            log.info("update %s:%s already handled", inp.channel, inp.update_id)
            return None
        set_language(opened.identity.language)
        ctx = Context(
            tx=tx,
            settings=self.settings,
            identity=opened.identity,
            member=opened.member,
            grants=opened.grants,
            conversation=opened.conversation,
            now=now,
            incoming=inp,
        )
        conversation = opened.conversation
        before: State = (
            conversation.flow,
            conversation.step,
            conversation.data,
            opened.identity.language,
        )
        if not inp.unsupported and UNSUPPORTED_STREAK in ctx.data:
            # Something readable came: the streak of unsupported messages is over.
            conversation.data = {
                k: v for k, v in ctx.data.items() if k not in (UNSUPPORTED_STREAK, TOLD_OTHER_WAYS)
            }
        return ctx, before

    async def _save_state(self, ctx: Context, before: State) -> None:
        """Write the person's next state (flow, step, data, language) when the update
        changed it: one statement, and none when it is as it was (a menu, a command)."""
        conversation, language = ctx.conversation, ctx.identity.language
        if (conversation.flow, conversation.step, conversation.data, language) == before:
            return
        changed_language = language if language != before[3] else None
        await save_state(ctx.tx, conversation, language=changed_language)

    async def _dispatch(self, ctx: Context, inp: Incoming) -> Reply:
        from handlers import start

        if inp.unsupported:
            if ctx.flow and self._idle(ctx):
                ctx.finish()
                ctx.preface.append(
                    Message(_("Your previous conversation ended after a long pause."))
                )
            return await self._unsupported(ctx)
        if inp.command:
            if inp.command in GLOBAL_COMMANDS:
                return await start.global_command(ctx, inp.command, inp.args)
            handler = registry.commands.get(inp.command)
            if handler is not None:
                return await handler(ctx, inp.args)
            return await self._again(ctx, _("Unknown command. Send /help to see what I can do."))

        if inp.choice is not None:
            if inp.choice.startswith(MENU_PREFIX):
                return await start.open_menu_entry(ctx, inp.choice[len(MENU_PREFIX) :])
            prefix = inp.choice.split(":", 1)[0] + ":"
            global_handler = registry.global_choices.get(prefix)
            if global_handler is not None:
                return await global_handler(ctx, inp.choice)

        if ctx.flow and self._idle(ctx):
            ctx.finish()
            ctx.preface.append(Message(_("Your previous conversation ended after a long pause.")))
            return await start.main_menu(ctx)

        step = self._current_step(ctx)
        if step is None:
            note = start.stale_note(ctx, inp)
            if ctx.flow or ctx.data:
                ctx.finish()
            return await start.main_menu(ctx, note)
        return await step.handle(ctx, inp)

    def _current_step(self, ctx: Context):  # type: ignore[no-untyped-def]
        flow = registry.flows.get(ctx.flow or "")
        if flow is None:
            return None
        return flow.steps.get(ctx.step or "")

    def _idle(self, ctx: Context) -> bool:
        limit = dt.timedelta(minutes=self.settings.conversation_idle_minutes)
        previous = ctx.previous_at
        return previous is not None and ctx.now - previous > limit

    async def _unsupported(self, ctx: Context) -> Reply:
        """What the bot can take, and the current question again.

        An account whose every message arrives unsupported (Zalo protects the accounts
        of children, people with disabilities, people who cannot read) may never be
        able to answer: on its first message, or the second unsupported one in a row,
        it is told once how else to reach the police.
        """
        from handlers.contact import other_ways

        streak = int(ctx.data.get(UNSUPPORTED_STREAK, 0)) + 1
        ctx.update(**{UNSUPPORTED_STREAK: streak})
        hint = _("I cannot read this kind of message. I can take text, photos and voice messages.")
        first_ever = ctx.previous_at is None
        if not ctx.data.get(TOLD_OTHER_WAYS) and (streak >= 2 or first_ever):
            ctx.update(**{TOLD_OTHER_WAYS: True})
            hint += "\n\n" + await other_ways(ctx)
        return await self._again(ctx, hint)

    async def _again(self, ctx: Context, hint: str) -> Reply:
        """A hint, then the current question again (or the menu).

        After ``Invalid`` the current step is the one that refused the input: one process
        keeps a person's updates in order (the channels) and the conversation row's lock
        holds between processes, except in the moment between the rollback and the new
        transaction, when another process's update of the same person may move them on;
        they then get the hint and the question they are at now.
        """
        from handlers import start

        step = self._current_step(ctx)
        if step is None:
            return [Message(hint), *await start.main_menu(ctx)]
        return [Message(hint), *await step.prompt(ctx)]
