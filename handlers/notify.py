"""Proactive messages: written to the outbox in the caller's transaction, sent later.

Texts are rendered in the recipient's language at the time they are queued. A
dedup key makes a repeated job or a retried transaction queue nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Identity, Outbox
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
) -> bool:
    """Queue ``render()`` (called in the recipient's language) for ``identity``.

    Returns False when a row with this dedup key already exists.
    """
    previous = current_language()
    set_language(identity.language)
    try:
        messages = render()
    finally:
        set_language(previous)
    values: dict[str, object] = {
        "identity_id": identity.id,
        "dedup_key": dedup_key,
        "payload": {"messages": [message_to_json(m) for m in messages]},
        "urgent": urgent,
        "broadcast_id": broadcast_id,
    }
    if not_before is not None:
        values["not_before"] = not_before
    stmt = (
        insert(Outbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Outbox.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
