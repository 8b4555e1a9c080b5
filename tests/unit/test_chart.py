"""The digest's phone chart (handlers.chart), read back from its PNG: bar lengths against
shares worked out by hand, colours, order, long names, and the shipped fonts' Vietnamese."""

from __future__ import annotations

import unicodedata

from PIL import Image, ImageChops, ImageDraw, ImageFont

from handlers.chart import BOLD, REGULAR, Bar, ChartSpec, render_chart
from tests.chart_pixels import BLUE, GREEN, RED, bars, decode

# 720 px wide (twice a phone's 360) with 22 px left and right: a 676 px bar.
TRACK = 720 - 2 * 22


def test_bar_lengths_are_the_shares_in_pixels() -> None:
    spec = ChartSpec(
        "Progress by unit: Tỉnh Nghệ An",
        "% of target reached",
        [
            Bar("Huyện Hưng Nguyên", 0, 2, "0% · 0/3 · 2 overdue"),
            Bar("Thành phố Vinh", 45, 1, "45% · 1/4 · 1 overdue"),
            Bar("Thị xã Cửa Lò", 25, 0, "25% · 1/4"),
            Bar("Huyện Nghi Lộc", 100, 0, "100% · 3/3"),
            Bar("Huyện Quỳnh Lưu", 130, 0, "130% · 2/2"),
        ],
    )
    png = render_chart(spec)
    assert decode(png).size[0] == 720
    drawn = bars(png)
    assert len(drawn) == 5
    # Top to bottom in the spec's order, each 50 px high, 126 px apart, on one 676 px track.
    assert [b.height for b in drawn] == [50] * 5
    assert [b.top - drawn[0].top for b in drawn] == [0, 126, 252, 378, 504]
    assert {(b.left, b.track) for b in drawn} == {(22, TRACK)}
    # 45% of 676 = 304.2; 25% = 169; 100% and more = the whole bar.
    assert [b.filled for b in drawn] == [0, 304, 169, TRACK, TRACK]
    # Red with anything overdue (nothing to colour at 0%), blue under way, green at target.
    assert [b.colour for b in drawn] == [None, RED, BLUE, GREEN, GREEN]


def test_a_long_name_is_cut_to_the_width_and_the_title_to_two_lines() -> None:
    long_name = "Ủy ban nhân dân " + "xã Quỳnh Lưu " * 20
    short = render_chart(ChartSpec("Tiến độ", "", [Bar("Xã A", 50, 0, "50%")]))
    long = render_chart(ChartSpec("Tiến độ theo đơn vị " * 12, "", [Bar(long_name, 50, 0, "50%")]))
    for png in (short, long):
        image = decode(png)
        (bar,) = bars(png)
        # The name's band: the 50 rows above its bar.
        band = image.crop((0, bar.top - 50, 720, bar.top))
        ink = ImageChops.difference(band, Image.new("RGB", band.size, "white")).getbbox()
        assert ink is not None and ink[0] >= 22 and ink[2] <= 720 - 22, "inside the margins"
    assert ink[2] > 600, "the long name takes the whole width"
    # A one-line title and a two-line one: the bar moves down by one line (40 px), not more.
    assert bars(long)[0].top - bars(short)[0].top == 40


VOWELS = "aăâeêioôơuưy"
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # grave, acute, hook, tilde, dot


def vietnamese_letters() -> list[str]:
    letters = ["đ", "Đ"]
    for vowel in VOWELS + VOWELS.upper():
        for tone in TONES:
            letter = unicodedata.normalize("NFC", vowel + tone)
            assert len(letter) == 1, "every Vietnamese letter has one code point"
            letters.append(letter)
    return letters


def drawn(face: ImageFont.FreeTypeFont, letter: str) -> bytes:
    image = Image.new("L", (60, 60))
    ImageDraw.Draw(image).text((10, 5), letter, font=face, fill=255)
    return image.tobytes()


def test_the_shipped_fonts_have_every_vietnamese_letter() -> None:
    letters = vietnamese_letters()
    assert len(letters) == 2 + 24 * 6
    for path in (REGULAR, BOLD):
        face = ImageFont.truetype(str(path), 38)
        missing = drawn(face, "\ue000")  # a private-use code point: the font's empty box
        assert drawn(face, "\ue001") == missing and any(missing)
        for letter in letters:
            assert drawn(face, letter) != missing, (path.name, letter)
        # The same letter with and without its tone mark is drawn differently.
        assert drawn(face, "ệ") != drawn(face, "ê")
