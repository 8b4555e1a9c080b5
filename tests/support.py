"""Test helpers: a person talking to the engine, and a controllable clock."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from dataclasses import dataclass, field

from PIL import Image

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


GPS_IFD = 0x8825


def photo_with_exif() -> bytes:
    """A 40x20 red JPEG whose EXIF names a phone and a person, with a GPS position and
    an orientation (shown upright, it is 20x40)."""
    image = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X1"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to show upright
    exif[0x013B] = "Nguyen Van A"  # Artist
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (18.0, 40.0, 12.5), 3: "E", 4: (105.0, 41.0, 3.2)})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, comment=b"taken at home")
    return buffer.getvalue()
