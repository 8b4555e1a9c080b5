"""Re-seal stored secrets under the current key after a rotation (``antt secret rotate``).

Reporter links, the sealed messages waiting in the outbox and the sealed times of
conversations are opened with whichever key opens them (current, then previous)
and sealed again under the current one, one transaction per kind: running it
twice, or again after a crash, does no harm. Keyed digests
(tracking and invite codes) cannot be recomputed without the code: they are
re-keyed when the code is next used (``db.tips.by_code``, ``db.invites``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from bot.config import Settings
from db.models import Conversation, Outbox, OutboxStatus, TipReporter
from db.sealed import (
    open_time,
    payload_messages,
    seal,
    seal_payload,
    seal_time,
    unseal,
)
from db.session import Database


@dataclass(frozen=True)
class Resealed:
    links: int
    messages: int
    conversations: int


def _current_only(settings: Settings) -> Settings:
    return settings.model_copy(update={"secret_key_previous": None})


async def reseal_all(db: Database, settings: Settings) -> Resealed:
    """Seal again under the current key whatever opens only with the previous one."""
    current = _current_only(settings)
    links = messages = conversations = 0
    async with db.sessions.begin() as session:
        links_rows = (await session.execute(select(TipReporter.tip_id, TipReporter.sealed))).all()
        for tip_id, blob in links_rows:
            if unseal(current, tip_id, blob) is not None:
                continue
            link = unseal(settings, tip_id, blob)
            if link is None:
                continue  # sealed under neither key: left as it is
            await session.execute(
                update(TipReporter)
                .where(TipReporter.tip_id == tip_id)
                .values(sealed=seal(settings, tip_id, link))
            )
            links += 1
    async with db.sessions.begin() as session:
        outbox_rows = (
            await session.execute(
                select(Outbox.id, Outbox.payload).where(
                    Outbox.status == OutboxStatus.PENDING.value,
                    Outbox.payload.has_key("sealed"),
                )
            )
        ).all()
        for row_id, payload in outbox_rows:
            if payload_messages(current, payload):
                continue
            found = payload_messages(settings, payload)
            if not found:
                continue
            resealed = seal_payload(settings, {**payload, "messages": found})
            await session.execute(
                update(Outbox).where(Outbox.id == row_id).values(payload=resealed)
            )
            messages += 1
    async with db.sessions.begin() as session:
        conv_rows = (
            await session.execute(
                select(
                    Conversation.identity_id, Conversation.touched, Conversation.touched_before
                ).where(Conversation.touched.is_not(None))
            )
        ).all()
        for identity_id, touched, before in conv_rows:
            if open_time(current, touched) is not None:
                continue
            values: dict[str, bytes | None] = {}
            for name, sealed_time in (("touched", touched), ("touched_before", before)):
                when = open_time(settings, sealed_time)
                values[name] = seal_time(settings, when) if when is not None else None
            await session.execute(
                update(Conversation).where(Conversation.identity_id == identity_id).values(**values)
            )
            conversations += 1
    return Resealed(links, messages, conversations)
