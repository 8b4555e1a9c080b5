"""The conversation engine: Incoming -> one transaction -> Reply.

Per update, in one transaction: get or create the person's identity, lock their
conversation row (two quick taps by one person run in order; different people
run concurrently), record the update id (a redelivered update is skipped), run
the global command or the current step, save the next state, commit. The reply
is returned only after the commit, so what a person is told is saved, is saved.

Dispatch order: global commands (/start /menu /cancel /help /lang), other
registered commands, main-menu buttons and global buttons, then the current
step; with no current step, the main menu.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.config import Settings
from db.conversations import open_update
from db.models import utcnow
from db.session import Database, UnitOfWork
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
    "tip",
    "tip_status",
    "triage",
    "digest",
    "broadcast",
    "reminders",
)
GLOBAL_COMMANDS = ("start", "menu", "cancel", "help", "lang")
RETRIES = 3


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
        load_flows()

    async def handle(self, inp: Incoming) -> Reply:
        """Handle one update; retried on transient database errors, never doubled."""
        for attempt in range(1, RETRIES + 1):
            try:
                return await self._handle_once(inp)
            except DBAPIError as exc:
                if not _is_transient(exc) or attempt == RETRIES:
                    log.exception("update %s failed", inp.update_id)
                    return [Message(_("Sorry, something went wrong. Please try again."))]
                log.warning("update %s: transient database error, retry %d", inp.update_id, attempt)
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _handle_once(self, inp: Incoming) -> Reply:
        async with UnitOfWork(self.db) as uow:
            session = uow.session
            now = self.clock()
            opened = await open_update(
                session,
                inp.channel,
                inp.user_id,
                update_id=inp.update_id,
                chat_id=inp.chat_id,
                display_name=inp.display_name,
                language=pick_language(inp.language_code),
                now=now,
            )
            if not opened.fresh:
                log.info("update %s:%s already handled", inp.channel, inp.update_id)
                return []
            identity, conversation = opened.identity, opened.conversation
            set_language(identity.language)
            ctx = Context(
                session=session,
                settings=self.settings,
                identity=identity,
                member=opened.member,
                grants=opened.grants,
                conversation=conversation,
                now=now,
                incoming=inp,
            )
            try:
                reply = await self._dispatch(ctx, inp)
            except Exception:
                log.exception("update %s:%s failed in %s", inp.channel, inp.update_id, ctx.flow)
                return [Message(_("Sorry, something went wrong. Please try again."))]
            await uow.commit()
        return ctx.preface + reply

    async def _dispatch(self, ctx: Context, inp: Incoming) -> Reply:
        from handlers import start

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
        try:
            async with ctx.session.begin_nested():
                return await step.handle(ctx, inp)
        except Invalid as bad:
            # The savepoint is gone with whatever the step wrote; reload the state.
            await ctx.session.refresh(ctx.conversation)
            return [Message(str(bad)), *await step.prompt(ctx)]

    def _current_step(self, ctx: Context):  # type: ignore[no-untyped-def]
        flow = registry.flows.get(ctx.flow or "")
        if flow is None:
            return None
        return flow.steps.get(ctx.step or "")

    def _idle(self, ctx: Context) -> bool:
        limit = dt.timedelta(minutes=self.settings.conversation_idle_minutes)
        previous = ctx.conversation.previous_at
        return previous is not None and ctx.now - previous > limit

    async def _again(self, ctx: Context, hint: str) -> Reply:
        """A hint, then the current question again (or the menu)."""
        from handlers import start

        step = self._current_step(ctx)
        if step is None:
            return [Message(hint), *await start.main_menu(ctx)]
        return [Message(hint), *await step.prompt(ctx)]
