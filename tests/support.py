"""Test helpers: a person talking to the engine, and a controllable clock."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from handlers.engine import Engine
from handlers.render import to_plain
from handlers.types import Incoming, Location, MediaRef, Reply

_update_ids = itertools.count(1)

# A key as strong as `antt run` requires (32 random bytes, base64): for processes the
# tests start, and for the settings of tests that go through the keyed digests.
TEST_KEY = "t3st-K3y_0f-32-rAnd0m-bYtes_fOr-th3-tEsts-oNLy"


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


@dataclass
class Person:
    """One person on one channel, sending updates straight to the engine."""

    engine: Engine
    user_id: str
    name: str = "Nguyễn Văn A"
    language_code: str | None = "vi"
    channel: str = "test"
    last: Reply = field(default_factory=list)

    async def _send(self, **kwargs: object) -> Reply:
        inp = Incoming(
            channel=self.channel,
            user_id=self.user_id,
            chat_id=self.user_id,
            update_id=str(next(_update_ids)),
            display_name=self.name,
            language_code=self.language_code,
            **kwargs,  # type: ignore[arg-type]
        )
        self.last = await self.engine.handle(inp)
        return self.last

    async def say(self, text: str) -> Reply:
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return await self._send(text=text, command=command, args=args.strip())
        return await self._send(text=text)

    async def press(self, choice: str) -> Reply:
        return await self._send(choice=choice)

    async def share_location(self, lat: float, lon: float) -> Reply:
        return await self._send(location=Location(lat, lon))

    async def share_contact(self, phone: str) -> Reply:
        return await self._send(contact_phone=phone)

    async def send_media(self, *media: MediaRef, caption: str | None = None) -> Reply:
        return await self._send(media=tuple(media), text=caption)

    @property
    def text(self) -> str:
        """All messages of the last reply as plain text."""
        return "\n".join(to_plain(m.text) for m in self.last)

    @property
    def choices(self) -> list[str]:
        return [c.id for m in self.last for c in m.choices]

    def choice_labelled(self, fragment: str) -> str:
        for m in self.last:
            for c in m.choices:
                if fragment.lower() in c.label.lower():
                    return c.id
        raise AssertionError(f"no choice like {fragment!r} in {self.choices}")
