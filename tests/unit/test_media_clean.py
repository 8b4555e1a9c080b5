"""Files without their past: images re-encoded without metadata, other files renamed."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from bot.media_clean import clean_file, neutral_suffix
from tests.support import GPS_IFD, photo_with_exif


def test_a_photo_sent_as_a_file_loses_its_exif_and_gps_and_is_turned_upright() -> None:
    original = photo_with_exif()
    assert b"PhoneMaker" in original and b"Nguyen Van A" in original
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_IFD)  # the GPS position is there
    cleaned = clean_file(original, label="Document", original_name="Nguyen_Van_A.jpg")
    assert cleaned is not None and cleaned.image and cleaned.name == "Document.jpg"
    for secret in (b"PhoneMaker", b"Model X1", b"Nguyen Van A", b"taken at home", b"Exif"):
        assert secret not in cleaned.content
    with Image.open(io.BytesIO(cleaned.content)) as after:
        assert after.format == "JPEG" and not after.getexif()
        assert after.size == (20, 40)  # the orientation was applied, then dropped
        r, g, b = after.convert("RGB").getpixel((10, 20))  # type: ignore[misc]
        assert r > 150 and g < 80 and b < 80


def test_png_text_chunks_go_and_transparency_stays() -> None:
    image = Image.new("RGBA", (8, 8), (0, 0, 255, 128))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Le Thi B")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    assert b"Le Thi B" in buffer.getvalue()
    cleaned = clean_file(buffer.getvalue(), label="Tệp", original_name="x.png")
    assert cleaned is not None and cleaned.name == "Tệp.png"
    assert b"Le Thi B" not in cleaned.content
    with Image.open(io.BytesIO(cleaned.content)) as after:
        assert after.mode == "RGBA" and after.getpixel((0, 0)) == (0, 0, 255, 128)


def test_other_documents_keep_their_content_but_not_their_name() -> None:
    pdf = b"%PDF-1.4\n% Author: Nguyen Van A\n"
    cleaned = clean_file(pdf, label="Document", original_name="Nguyen_Van_A (hop dong).PDF")
    assert cleaned is not None and not cleaned.image
    assert cleaned.content == pdf and cleaned.name == "Document.pdf"


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("a.pdf", ".pdf"),
        ("A.DOCX", ".docx"),
        ("no-extension", ""),
        ("x.tar.gz", ".gz"),
        ("evil.p d f", ""),
        (None, ""),
        ("report.thisistoolong", ""),
    ],
)
def test_only_a_plain_extension_is_kept(name: str | None, suffix: str) -> None:
    assert neutral_suffix(name) == suffix


def test_an_image_too_large_to_decode_is_not_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    Image.new("L", (100, 100)).save(buffer, format="PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10 000 pixels > 2 x 1000
    assert clean_file(buffer.getvalue(), label="D", original_name="big.png") is None


def test_a_label_becomes_a_plain_file_name() -> None:
    from bot.media_clean import file_label

    assert file_label("#1 · ảnh 2/3") == "1-ảnh-2-3"
    assert file_label("Tệp") == "Tệp"
    assert file_label("· / #") == "file"
