"""What every channel offers the rest of the app, and the delivery errors it raises.

The outbox sender and the reply path speak only this protocol, so they never
import a messenger library.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from handlers.types import MediaRef, Message


class DeliveryError(Exception):
    """A message could not be delivered; subclasses say what to do about it."""


class RecipientBlocked(DeliveryError):
    """The person blocked the bot or the chat no longer exists: stop trying."""


class RateLimited(DeliveryError):
    """The messenger asked us to slow down: pause this bot for ``retry_after`` seconds."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """A 5xx or a network error: retry later with backoff."""


class PermanentError(DeliveryError):
    """The request itself was refused (a 400 other than "chat not found"): do not retry."""


class Channel(Protocol):
    name: str

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        """Deliver messages to one chat, in order; raise a ``DeliveryError`` on failure."""
        ...

    async def show(self, chat_id: str, message: Message, replace: str | None = None) -> str:
        """Show one text message (with choices) and return its id, for a later ``replace``.

        With ``replace``, that message is edited in place (a status that changes);
        a channel that cannot edit sends the message anew and returns the new id.
        """
        ...


@runtime_checkable
class FileSource(Protocol):
    """A channel that can fetch a file people sent on it (an announcement's photo or leaflet)."""

    async def fetch(self, ref: MediaRef) -> bytes:
        """The file's bytes; raises a ``DeliveryError`` when it cannot be had."""
        ...
