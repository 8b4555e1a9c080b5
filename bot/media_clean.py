"""Files without their past: what a reporter sent, without its metadata or its name.

A document reaches Telegram's servers byte for byte, with its file name: a photo
sent "as a file" keeps its EXIF (where it was taken, the phone), a document its
author. Before a triager sees one, or a copy is kept (``ANTT_STORE_MEDIA``):

- an image is decoded and encoded again by Pillow (turned upright first), which
  writes pixels and nothing else: no EXIF, GPS, XMP, comments or thumbnails;
- any other file keeps its content (the reporter was told so before sending)
  and gets a neutral name ("<label>.pdf").

An image Pillow refuses (too large to decode safely) is not passed on at all.
Pillow is imported on the first file: a bot that never forwards one never loads it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

# Formats written back as they were (others become PNG when they have transparency, else JPEG).
_KEEP = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}$")
_WORD = re.compile(r"[^\W_]+")
JPEG_QUALITY = 90


@dataclass(frozen=True)
class Cleaned:
    content: bytes
    name: str
    image: bool


def neutral_suffix(name: str | None) -> str:
    """The extension of ``name`` if it is a plain one (".pdf"), else ""."""
    found = _SUFFIX.search((name or "").lower())
    return found.group(0) if found else ""


def clean_image(content: bytes) -> tuple[bytes, str] | None:
    """The image encoded again without metadata, with its extension; None if not an image.

    Raises ``Image.DecompressionBombError`` for an image too large to decode safely.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as opened:
            source_format = opened.format or ""
            image = ImageOps.exif_transpose(opened) or opened
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    if source_format in _KEEP:
        out_format, suffix = source_format, _KEEP[source_format]
    elif "A" in image.getbands() or "transparency" in image.info:
        out_format, suffix = "PNG", ".png"
    else:
        out_format, suffix = "JPEG", ".jpg"
    if out_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if out_format == "PNG" and image.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    options = {"quality": JPEG_QUALITY} if out_format in ("JPEG", "WEBP") else {}
    # The pixels only: nothing of ``info`` (EXIF, XMP, ICC, text chunks) is written.
    fresh = image.copy()
    fresh.info = {}
    fresh.save(buffer, format=out_format, **options)
    return buffer.getvalue(), suffix


def file_label(label: str) -> str:
    """``label`` as a file name: letters and digits, the rest one "-" ("#1 · ảnh 2/3" ->
    "1-ảnh-2-3")."""
    return "-".join(_WORD.findall(label)) or "file"


def clean_file(content: bytes, *, label: str, original_name: str | None) -> Cleaned | None:
    """``content`` as a triager may see it, named ``label`` + extension; None when it
    is an image that cannot be cleaned."""
    from PIL import Image

    label = file_label(label)
    try:
        image = clean_image(content)
    except Image.DecompressionBombError:
        return None
    if image is not None:
        return Cleaned(image[0], label + image[1], True)
    return Cleaned(content, label + neutral_suffix(original_name), False)
