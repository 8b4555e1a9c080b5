"""The numbered choices a chat without buttons was last shown (Zalo), and reading answers.

A person answers a numbered list by typing the number or the label; this turns
that text back into the choice's id, whatever process sent the list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ShownChoices
from db.sealed import coarse
from db.units import fold


async def remember(
    session: AsyncSession,
    channel: str,
    chat_id: str,
    choices: Sequence[tuple[str, str]],
    now: dt.datetime,
) -> None:
    """Keep ``choices`` (id, label) as the list the chat now sees."""
    # Only the day: the chat id names the person, the moment would line up with a tip's.
    values = {"choices": [list(c) for c in choices], "shown_at": coarse(now)}
    await session.execute(
        insert(ShownChoices)
        .values(channel=channel, chat_id=chat_id, **values)
        .on_conflict_do_update(index_elements=["channel", "chat_id"], set_=values)
    )


async def answer(session: AsyncSession, channel: str, chat_id: str, text: str) -> str | None:
    """The id of the choice ``text`` picks ("2", or the label in any case and accents)."""
    text = text.strip()
    if not text:
        return None
    shown = await session.scalar(
        select(ShownChoices.choices).where(
            ShownChoices.channel == channel, ShownChoices.chat_id == chat_id
        )
    )
    if not shown:
        return None
    if text.isdigit():
        number = int(text)
        return shown[number - 1][0] if 1 <= number <= len(shown) else None
    folded = fold(text)
    return next((cid for cid, label in shown if fold(label) == folded), None)
