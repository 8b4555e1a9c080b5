"""A failed statement's message, which goes to the logs with its traceback, carries no
values: they may name who wrote (a chat id, a display name, a tip's text)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from db.models import Identity
from db.session import Database


async def test_a_failed_orm_statement_leaves_the_values_out(db: Database) -> None:
    secret = "9876543210-anonymous"
    async with db.sessions() as s:
        s.add(
            Identity(channel="telegram", external_id=secret, chat_id=secret, display_name="Bí Mật")
        )
        await s.commit()
    with pytest.raises(IntegrityError) as caught:
        async with db.sessions() as s:  # the same (channel, external id) again
            s.add(Identity(channel="telegram", external_id=secret, chat_id=secret))
            await s.commit()
    message = str(caught.value)
    assert "uq_identity_channel_external" in message  # the error itself is there
    assert secret not in message and "Bí Mật" not in message
