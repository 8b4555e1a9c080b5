"""Reading a digest chart back from its PNG: where its bars are and how long they are.

A bar is a band of rows holding the target's grey or a bar colour; its first rows
carry no letters, so one of them shows the coloured part from the left, then grey.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

GREY = (0xE5, 0xE8, 0xE8)  # the whole target
RED, GREEN, BLUE = (0xC0, 0x39, 0x2B), (0x27, 0xAE, 0x60), (0x2E, 0x86, 0xC1)
BAR_COLOURS = (RED, GREEN, BLUE)


@dataclass(frozen=True)
class DrawnBar:
    top: int  # first row of the band
    height: int
    left: int  # first column of the band
    track: int  # pixels of the whole bar (grey and colour)
    filled: int  # pixels of colour, from the left
    colour: tuple[int, int, int] | None  # None when nothing is filled


def decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(png)).convert("RGB")


def bars(png: bytes) -> list[DrawnBar]:
    """The bars of the chart, top to bottom."""
    image = decode(png)
    width, height = image.size
    pixels = image.load()
    assert pixels is not None

    def barlike(y: int) -> int:
        return sum(1 for x in range(width) if pixels[x, y] in (GREY, *BAR_COLOURS))

    rows = [y for y in range(height) if barlike(y) >= width // 3]
    bands: list[list[int]] = []
    for y in rows:
        if bands and bands[-1][-1] == y - 1:
            bands[-1].append(y)
        else:
            bands.append([y])
    found = []
    for band in bands:
        y = band[0] + 2
        row = [pixels[x, y] for x in range(width)]
        left = next(x for x, p in enumerate(row) if p in (GREY, *BAR_COLOURS))
        right = max(x for x, p in enumerate(row) if p in (GREY, *BAR_COLOURS))
        coloured = [x for x, p in enumerate(row) if p in BAR_COLOURS]
        if coloured:  # one run from the left edge
            assert coloured == list(range(left, left + len(coloured))), "one run from the left"
        found.append(
            DrawnBar(
                top=band[0],
                height=len(band),
                left=left,
                track=right - left + 1,
                filled=len(coloured),
                colour=row[left] if coloured else None,  # type: ignore[arg-type]
            )
        )
    return found
