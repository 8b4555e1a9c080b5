"""Proactive messages: written to the outbox in the caller's transaction, sent later.

Texts are rendered in the recipient's language at the time they are queued. A
dedup key makes a repeated job or a retried transaction queue nothing twice.

Messages to an anonymous reporter are queued ``private``: the messages are sealed
under the key (the row names the person, so it must not show what the message is
about), the row's times are only the day (a precise time would line up with the
tip event it relays), and the sender deletes the row once it is done.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.models import Identity, Outbox
from db.sealed import coarse, seal_payload
from handlers.i18n import current_language, set_language
from handlers.types import Message, message_to_json


async def enqueue(
    session: AsyncSession,
    identity: Identity,
    render: Callable[[], list[Message]],
    *,
    dedup_key: str,
    urgent: bool = False,
    not_before: dt.datetime | None = None,
    broadcast_id: int | None = None,
    private: tuple[Settings, dt.datetime] | None = None,
) -> bool:
    """Queue ``render()`` (called in the recipient's language) for ``identity``.

    ``private=(settings, now)`` seals the messages and keeps only the day of ``now``.
    Returns False when a row with this dedup key already exists.
    """
    previous = current_language()
    set_language(identity.language)
    try:
        messages = render()
    finally:
        set_language(previous)
    payload = {"messages": [message_to_json(m) for m in messages]}
    values: dict[str, object] = {
        "identity_id": identity.id,
        "dedup_key": dedup_key,
        "payload": payload,
        "urgent": urgent,
        "broadcast_id": broadcast_id,
    }
    if not_before is not None:
        values["not_before"] = not_before
    if private is not None:
        settings, now = private
        day = coarse(now)
        values.update(
            payload=seal_payload(settings, payload),
            created_at=day,
            not_before=max(day, coarse(not_before)) if not_before is not None else day,
        )
    stmt = (
        insert(Outbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Outbox.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
