"""``antt qr``: the poster's QR code holds the tip deep link of the unit; the PDF is A4."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.commands.qr import (
    SHIPPED_FONT,
    find_font,
    poster_pdf,
    poster_unit,
    qr_png,
    subscribe_link,
    tip_link,
    write_poster,
)
from bot.errors import UserError
from db.models import Unit
from db.session import Database
from tests.integration.tip_helpers import make_world


def matrix_of_png(png: bytes, box: int = 20, border: int = 4) -> list[list[bool]]:
    """The modules of a QR PNG (True = dark), read back from its pixels."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    n = image.width // box
    return [
        [image.getpixel((x * box + box // 2, y * box + box // 2)) < 128 for x in range(n)]  # type: ignore[operator]
        for y in range(n)
    ]


def test_link_and_png_encode_the_deep_link() -> None:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    link = tip_link("@AnttNgheAnBot", "nghi-huong")
    assert link == "https://t.me/AnttNgheAnBot?start=tip_nghi-huong"
    expected = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    expected.add_data(link)
    expected.make(fit=True)
    assert matrix_of_png(qr_png(link)) == expected.get_matrix()
    other = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    other.add_data(tip_link("AnttNgheAnBot", "ben-thuy"))
    other.make(fit=True)
    assert matrix_of_png(qr_png(link)) != other.get_matrix()


def test_codes_that_cannot_go_into_a_start_link_are_refused() -> None:
    with pytest.raises(UserError):
        tip_link("AnttBot", "xã nghi hương")
    with pytest.raises(UserError):
        tip_link("AnttBot", "x" * 61)
    with pytest.raises(UserError):
        tip_link("not a bot!", "nghi-huong")


def test_pdf_is_one_a4_page_with_the_link(tmp_path: Path) -> None:
    link = tip_link("AnttBot", "nghi-huong")
    pdf = poster_pdf(link, "Phường Nghi Hương", qr_png(link), find_font())
    assert pdf.startswith(b"%PDF-")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in pdf
    assert link.encode() in pdf
    assert b"/Subtype /Image" in pdf


def test_the_poster_carries_the_subscription_code_too(tmp_path: Path) -> None:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    link = subscribe_link("AnttBot", "nam-giang")
    assert link == "https://t.me/AnttBot?start=sub_nam-giang"
    expected = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    expected.add_data(link)
    expected.make(fit=True)
    assert matrix_of_png(qr_png(link)) == expected.get_matrix()
    tip = tip_link("AnttBot", "nam-giang")
    pdf = poster_pdf(tip, "Xã Nam Giang", qr_png(tip), None, subscribe=(link, qr_png(link)))
    assert tip.encode() in pdf  # the subject; the page text itself is compressed
    assert pdf.count(b"/Subtype /Image") == 2


def test_pdf_without_a_vietnamese_font_still_prints() -> None:
    assert find_font(candidates=()) is None
    link = tip_link("AnttBot", "nghi-huong")
    pdf = poster_pdf(link, "Phường Nghi Hương", qr_png(link), None)
    assert pdf.startswith(b"%PDF-")


def test_the_shipped_font_comes_first_so_a_fresh_machine_prints_accents() -> None:
    # No system font at all (a fresh machine): the DejaVu Sans shipped in the package.
    assert find_font(candidates=(str(SHIPPED_FONT), "/nonexistent/Font.ttf")) == SHIPPED_FONT
    found = find_font()
    assert found == SHIPPED_FONT
    repo = Path(__file__).resolve().parents[2]
    assert found.is_relative_to(repo)  # nothing outside the checkout is needed


def test_a_font_without_vietnamese_letters_is_refused() -> None:
    import reportlab

    vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
    with pytest.raises(UserError):
        find_font(vera)


async def test_poster_files_for_a_unit_and_its_successor(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    code, name = await poster_unit(db, "ben-thuy")
    png, pdf, link = write_poster(code, name, bot="AnttBot", out=tmp_path, font=None)
    assert (png.name, pdf.name) == ("tip-ben-thuy.png", "tip-ben-thuy.pdf")
    assert png.read_bytes().startswith(b"\x89PNG") and pdf.read_bytes().startswith(b"%PDF")
    assert link.endswith("start=tip_ben-thuy")
    assert (tmp_path / "sub-ben-thuy.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(UserError):
        await poster_unit(db, "no-such-unit")
    async with db.sessions() as s:
        await s.execute(
            update(Unit)
            .where(Unit.code == "hung-01")
            .values(valid_to=dt.date(2025, 7, 1), replaced_by_id=world.units["hung-02"])
        )
        await s.commit()
    assert await poster_unit(db, "hung-01") == ("hung-02", "Xã Hưng Thôn 02")


# --- the poster of issue 16: both messengers, the whole page, whole lines ------------------


def test_lines_never_break_inside_brackets() -> None:
    from bot.commands.qr import wrap

    text = "Trường hợp khẩn cấp, hãy gọi 113 (công an), 114 (cứu hỏa), 115 (cấp cứu)."
    for width in range(60, 400, 7):
        lines = wrap(text, width, len)
        assert " ".join(lines) == text
        for line in lines:
            assert line.count("(") == line.count(")"), (width, lines)
            assert not line.endswith(("113", "114", "115")), (width, lines)


def test_the_poster_fills_the_page_and_carries_zalo_when_set() -> None:
    from bot.commands.qr import Drawn

    cm = 72 / 2.54
    link, zalo = tip_link("AnttBot", "nghi-huong"), "https://zalo.me/antt-nghe-an"
    alone: list[Drawn] = []
    poster_pdf(link, "Phường Nghi Hương", qr_png(link), find_font(), drawn=alone)
    images = [d for d in alone if d.image]
    assert len(images) == 1 and images[0].size >= 13 * cm, "one big code"
    texts = [d for d in alone if not d.image]
    assert max(d.y for d in texts) > 25 * cm and min(d.y for d in texts) < 3.2 * cm
    # Nothing but the red band's numbers in the bottom 3.2 cm; no empty third of the page.
    above_band = [d.y for d in texts if d.y > 3.2 * cm]
    assert min(above_band) < 8 * cm and images[0].y < 10 * cm

    both: list[Drawn] = []
    pdf = poster_pdf(
        link, "Phường Nghi Hương", qr_png(link), find_font(), zalo=(zalo, qr_png(zalo)), drawn=both
    )
    codes = [d for d in both if d.image]
    assert len(codes) == 2 and codes[0].size == codes[1].size and codes[0].x < codes[1].x
    assert codes[0].x + codes[0].size < codes[1].x, "side by side, not overlapping"
    shown = " ".join(d.text for d in both)
    assert "Telegram" in shown and "Zalo" in shown and zalo in shown
    assert link.encode() in pdf


def test_the_png_is_a_labelled_code(tmp_path: Path) -> None:
    import qrcode
    from PIL import Image
    from qrcode.constants import ERROR_CORRECT_M

    png_path, _pdf, link = write_poster(
        "nghi-huong", "Phường Nghi Hương", bot="AnttBot", out=tmp_path, font=find_font()
    )
    image = Image.open(png_path)
    assert image.height > image.width, "the name and the messenger under the code"
    expected = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    expected.add_data(link)
    expected.make(fit=True)
    assert matrix_of_png(png_path.read_bytes()) == expected.get_matrix()
