"""The digest's phone chart: one horizontal bar per unit (or task), drawn with Pillow.

A phone shows a photo about 360 px wide, so the chart is drawn 720 px wide (2x):
the title (at most two lines), then per bar its name above it in 38 px letters
(about 19 px on the phone) so a long name takes the full width, and the bar: the
whole target in grey, the share reached in colour (red with anything overdue,
green at 100% or more, else blue), its figures inside a long bar or after a short
one. The caller orders the bars (laggards on top) and writes their text.

Letters come from DejaVu Sans, shipped beside this module (``fonts/``, with its
licence) as a subset with Latin, Vietnamese, combining marks and punctuation, so a
fresh machine draws the diacritics the same. The subset was made with fontTools::

    pyftsubset DejaVuSans.ttf --layout-features='*' --notdef-outline --unicodes=U+0020-007E,\
U+00A0-024F,U+0300-036F,U+1E00-1EFF,U+2000-206F,U+20A0-20CF,U+2190-2193,U+2212,U+FFFD

Text is put in NFC first: every Vietnamese letter then is one glyph, which Pillow's
basic layout places without a shaping library. Pillow is imported when a chart is
drawn, not when the bot starts.
"""

from __future__ import annotations

import functools
import io
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageFont

FONTS = Path(__file__).with_name("fonts")
REGULAR = FONTS / "DejaVuSans.ttf"
BOLD = FONTS / "DejaVuSans-Bold.ttf"

WIDTH = 720  # twice a phone's 360 px
MARGIN = 22  # left and right of the bars
LABEL_PX = 38  # a bar's name: 19 px on the phone
NOTE_PX = 30  # the figures on a bar, bold
TITLE_PX = 32  # bold, at most two lines
TITLE_TOP = 22
TITLE_LINE = 40
ROW = 126  # a name and its bar
LABEL_Y = 28  # the middle of the name, from the top of its row
BAR_TOP, BAR_HEIGHT = 58, 50  # the bar, from the top of its row
NOTE_PAD = 10  # between the figures and the end of the coloured bar
BOTTOM = 27

WHITE = (255, 255, 255)
INK = (0, 0, 0)
NOTE_INK = (0x1B, 0x26, 0x31)
TRACK = (0xE5, 0xE8, 0xE8)  # the whole target
OVERDUE = (0xC0, 0x39, 0x2B)
REACHED = (0x27, 0xAE, 0x60)
UNDER_WAY = (0x2E, 0x86, 0xC1)
# Text colours and what each is drawn on: the palette holds 16 steps between the two
# (the letters' antialiasing) besides the flat colours.
TEXT_ON = (
    (INK, WHITE),
    (NOTE_INK, WHITE),
    (NOTE_INK, TRACK),
    (WHITE, OVERDUE),
    (WHITE, REACHED),
    (WHITE, UNDER_WAY),
)
# The fonts are loaded once and shared; a FreeType face is not made for concurrent use.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Bar:
    label: str
    percent: float  # 0..100 (more is drawn as 100)
    overdue: int
    note: str


@dataclass(frozen=True)
class ChartSpec:
    title: str
    xlabel: str
    bars: list[Bar]


@functools.cache
def font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    """The shipped DejaVu Sans (bold or regular) at ``size`` px, loaded once a process."""
    from PIL import ImageFont

    return ImageFont.truetype(
        str(BOLD if bold else REGULAR), size, layout_engine=ImageFont.Layout.BASIC
    )


@functools.cache
def _palette() -> Image.Image:
    """The PNG's palette: unfiltered 8-bit rows encode several times faster than RGB
    ones and take a third of the bytes."""
    from PIL import Image

    colours: list[tuple[int, ...]] = []
    for fg, bg in TEXT_ON:
        for step in range(16):
            mix = tuple(
                round((f * step + b * (15 - step)) / 15) for f, b in zip(fg, bg, strict=True)
            )
            if mix not in colours:
                colours.append(mix)
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for c in colours for v in c])
    return palette


def colour(bar: Bar) -> tuple[int, int, int]:
    """Red with anything overdue, green at the target or past it, else blue."""
    return OVERDUE if bar.overdue else REACHED if bar.percent >= 100 else UNDER_WAY


def _fit(text: str, face: ImageFont.FreeTypeFont, width: float) -> str:
    """``text``, cut with "…" where it would run past ``width`` pixels."""
    if face.getlength(text) <= width:
        return text
    shown, over = 0, len(text)  # the longest prefix that fits with "…" is in [shown, over)
    while over - shown > 1:
        middle = (shown + over) // 2
        if face.getlength(text[:middle].rstrip() + "…") <= width:
            shown = middle
        else:
            over = middle
    return text[:shown].rstrip() + "…"


def _title_lines(title: str, face: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """The title wrapped at word breaks into at most two lines; a longer one is cut."""
    lines: list[str] = []
    words = title.split()
    while words and len(lines) < 2:
        line = words.pop(0)
        while words and face.getlength(line + " " + words[0]) <= width:
            line += " " + words.pop(0)
        lines.append(line)
    if words:
        lines[-1] = _fit(lines[-1] + " " + " ".join(words), face, width)
    return [_fit(line, face, width) for line in lines]


def bar_length(percent: float, track: int) -> int:
    """Pixels of colour on a ``track``-pixel bar: the share, at most the whole bar."""
    return round(track * max(0.0, min(percent, 100.0)) / 100)


def render_chart(spec: ChartSpec) -> bytes:
    """The chart as a PNG for a phone: one row per bar in the spec's order (its first on top)."""
    with _LOCK:
        return _render(spec)


def _render(spec: ChartSpec) -> bytes:
    from PIL import Image, ImageDraw

    nfc = functools.partial(unicodedata.normalize, "NFC")
    track = WIDTH - 2 * MARGIN
    title_face = font(True, TITLE_PX)
    title = _title_lines(nfc(spec.title), title_face, track)
    top = TITLE_TOP + TITLE_LINE * len(title) + 18
    image = Image.new("RGB", (WIDTH, top + ROW * len(spec.bars) + BOTTOM), WHITE)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(title):
        draw.text((MARGIN, TITLE_TOP + TITLE_LINE * i), line, fill=INK, font=title_face)
    label_face, note_face = font(False, LABEL_PX), font(True, NOTE_PX)
    for i, bar in enumerate(spec.bars):
        y = top + ROW * i
        label = _fit(nfc(bar.label), label_face, track)
        draw.text((MARGIN, y + LABEL_Y), label, fill=INK, font=label_face, anchor="lm")
        y0, y1 = y + BAR_TOP, y + BAR_TOP + BAR_HEIGHT - 1
        draw.rectangle((MARGIN, y0, MARGIN + track - 1, y1), fill=TRACK)
        filled = bar_length(bar.percent, track)
        if filled:
            draw.rectangle((MARGIN, y0, MARGIN + filled - 1, y1), fill=colour(bar))
        # The figures: inside the coloured bar when they fit there, else after it.
        note = nfc(bar.note)
        needed = note_face.getlength(note) + 2 * NOTE_PAD
        inside = needed <= filled or (needed > track - filled and filled >= track / 2)
        middle = (y0 + y1) / 2
        if inside:
            at, fill, anchor = (MARGIN + filled - NOTE_PAD, middle), WHITE, "rm"
        else:
            at, fill, anchor = (MARGIN + filled + NOTE_PAD, middle), NOTE_INK, "lm"
        draw.text(at, note, fill=fill, font=note_face, anchor=anchor)
    buf = io.BytesIO()
    # zlib level 3: level 6 takes twice the time for a fifth fewer bytes.
    image.quantize(palette=_palette(), dither=Image.Dither.NONE).save(
        buf, format="PNG", compress_level=3
    )
    return buf.getvalue()
