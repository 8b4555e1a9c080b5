"""``antt qr --unit CODE [--output DIR] [--bot USERNAME] [--font TTF]``: a tip poster.

Writes ``tip-<code>.png`` (the QR code labelled with the commune's name),
``sub-<code>.png`` and ``tip-<code>.pdf`` (a printable A4 poster for the notice
board of a commune hall; with ``--zalo`` or ANTT_ZALO_BOT_LINK, the bot's Zalo code
beside the Telegram one). The big QR code
holds the deep link ``https://t.me/<bot>?start=tip_<code>``, which opens the
bot's tip flow with that commune already chosen; the small one
``…?start=sub_<code>``, which subscribes the reader to the commune's announcements.
``qrcode`` (Pillow backend) and ``reportlab`` are imported only when the command runs.

Vietnamese needs a TrueType font with its letters: ``--font``, else the DejaVu Sans
shipped with the digest's chart (``handlers/fonts``), so a fresh machine prints the
accents too; failing that, one the system has; without any, the poster falls back
to reportlab's own font and prints the texts without accents.
"""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import UserError
from handlers.i18n import _

if TYPE_CHECKING:
    from db.session import Database

# Telegram allows only these in a start parameter (64 at most, "tip_" included).
SAFE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
SHIPPED_FONT = Path(__file__).resolve().parents[2] / "handlers" / "fonts" / "DejaVuSans.ttf"
FONT_CANDIDATES = (
    str(SHIPPED_FONT),
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
# Letters a font must have to print Vietnamese.
VIETNAMESE_PROBE = "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĐ"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "qr",
        help=_(
            "write a QR-code poster (PNG and A4 PDF) for sending tips to a commune "
            "and subscribing to its announcements"
        ),
    )
    parser.add_argument("--unit", required=True, metavar="CODE", help=_("the commune's code"))
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help=_("where to write the files (default: this folder)"),
    )
    parser.add_argument(
        "--bot",
        metavar="USERNAME",
        help=_("the bot's Telegram username (default: ANTT_TELEGRAM_BOT_USERNAME)"),
    )
    parser.add_argument(
        "--zalo",
        metavar="URL",
        help=_("the bot's Zalo link, for a second code (default: ANTT_ZALO_BOT_LINK, if set)"),
    )
    parser.add_argument(
        "--font", type=Path, metavar="TTF", help=_("a TrueType font with Vietnamese letters")
    )
    parser.set_defaults(handler=qr_command)


def tip_link(bot_username: str, unit_code: str, prefix: str = "tip_") -> str:
    """The deep link that opens the tip flow with ``unit_code`` chosen (``sub_``: subscribes)."""
    bot = bot_username.strip().lstrip("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{3,64}", bot):
        raise UserError(_("{bot} is not a Telegram bot username").format(bot=bot_username))
    if not SAFE_CODE.fullmatch(unit_code):
        raise UserError(
            _(
                "The unit code {code} cannot go into a Telegram link "
                "(only letters, digits, - and _, at most 60)"
            ).format(code=unit_code)
        )
    return f"https://t.me/{bot}?start={prefix}{unit_code}"


def subscribe_link(bot_username: str, unit_code: str) -> str:
    """The deep link that subscribes a chat to the announcements of ``unit_code``."""
    return tip_link(bot_username, unit_code, prefix="sub_")


def qr_png(data: str, *, box_size: int = 20, border: int = 4) -> bytes:
    """The QR code of ``data`` as a black-on-white PNG (error correction M: survives wear)."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def find_font(
    explicit: Path | None = None, candidates: tuple[str, ...] = FONT_CANDIDATES
) -> Path | None:
    """A TrueType font that has the Vietnamese letters, or None."""
    from reportlab.pdfbase.ttfonts import TTFontFile

    paths = [explicit] if explicit is not None else [Path(p) for p in candidates]
    for path in paths:
        if not path.is_file():
            continue
        try:
            glyphs = TTFontFile(str(path)).charToGlyph
        except Exception:  # not a usable TrueType file
            continue
        if all(ord(ch) in glyphs for ch in VIETNAMESE_PROBE + VIETNAMESE_PROBE.upper()):
            return path
    if explicit is not None:
        raise UserError(
            _("{path} is not a TrueType font with Vietnamese letters").format(path=explicit)
        )
    return None


@dataclass(frozen=True)
class Drawn:
    """A line of text or an image as placed on the poster (points from the bottom left)."""

    text: str
    x: float
    y: float
    size: float
    image: bool = False


SUBSCRIBE_SIDE = 3.5  # cm: the small code that subscribes to the commune's announcements

# A word with the bracketed words after it ("114 (cứu hỏa),") never breaks across lines.
_UNBREAKABLE = re.compile(r"\S+(?: \([^)]*\)\S*)?|\([^)]*\)\S*")


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Greedy lines of at most ``width`` (by ``measure``), never inside brackets."""
    lines: list[str] = []
    current = ""
    for word in _UNBREAKABLE.findall(text):
        candidate = f"{current} {word}" if current else word
        if current and measure(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def poster_pdf(
    link: str,
    unit_name: str,
    png: bytes,
    font: Path | None,
    subscribe: tuple[str, bytes] | None = None,
    *,
    zalo: tuple[str, bytes] | None = None,
    drawn: list[Drawn] | None = None,
) -> bytes:
    """An A4 page filled top to bottom: the call, the commune, the QR code (Telegram, and
    Zalo beside it when configured), how to use it, the emergency numbers in a red band;
    with ``subscribe`` (link, PNG), a small second code for the commune's announcements.
    ``drawn`` collects what was placed where (for tests)."""
    from reportlab.lib.colors import HexColor, white
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import cm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from db.units import fold

    if font is not None:
        pdfmetrics.registerFont(TTFont("AnttPoster", str(font)))
        face = "AnttPoster"

        def shown(text: str) -> str:
            return text

    else:
        face = "Helvetica"

        def shown(text: str) -> str:  # the built-in font has no Vietnamese letters
            return fold(text).capitalize() if text else text

    placed = drawn if drawn is not None else []
    buf = io.BytesIO()
    page = canvas.Canvas(buf, pagesize=A4)
    page.setTitle(shown(_("Send a tip: {unit}").format(unit=unit_name)))
    page.setSubject(link)
    width, height = A4
    margin = 1.8 * cm

    def lines(text: str, size: float, room: float = width - 2 * margin) -> list[str]:
        return wrap(shown(text), room, lambda t: pdfmetrics.stringWidth(t, face, size))

    def centred(
        text: str, y: float, size: float, *, x: float = width / 2, room: float = 0
    ) -> float:
        """Draw wrapped, centred lines from ``y`` down; the y below them."""
        for line in lines(text, size, room or width - 2 * margin):
            page.setFont(face, size)
            page.drawCentredString(x, y, line)
            placed.append(Drawn(line, x, y, size))
            y -= size * 1.3
        return y

    def qr(image: bytes, x: float, y: float, side: float) -> None:
        page.drawImage(ImageReader(io.BytesIO(image)), x, y, side, side)
        placed.append(Drawn("", x, y, side, image=True))

    # The emergency numbers: a red band across the bottom.
    band = 3.2 * cm
    page.setFillColor(HexColor("#c8102e"))
    page.rect(0, 0, width, band, stroke=0, fill=1)
    page.setFillColor(white)
    emergency = _("In an emergency call 113 (police), 114 (fire), 115 (ambulance).")
    rows = lines(emergency, 19)
    centred(emergency, band / 2 + (len(rows) - 1) * 19 * 0.65 - 6, 19)
    page.setFillColor(HexColor("#000000"))

    y = height - 2.6 * cm
    y = centred(_("Report security and order problems to the police"), y, 30)
    y = centred(unit_name, y - 0.3 * cm, 26)
    how = _(
        "Scan the code with your phone's camera to send a tip: text, photos, video or your "
        "location. You may stay anonymous."
    )
    # The codes take what the texts leave (up to 15 cm alone, 8.5 cm side by side); the
    # whole block sits in the middle of the space between the commune and the band.
    link_lines = 1 if zalo is None else 2
    texts_below = len(lines(how, 15)) * 15 * 1.3 + link_lines * 11 * 1.3 + 1.1 * cm
    subscribe_caption = _("Scan this code to receive the announcements of {unit}.").format(
        unit=unit_name
    )
    if subscribe is not None:  # the small code, its caption and its link under the rest
        texts_below += (
            (SUBSCRIBE_SIDE + 0.8) * cm + len(lines(subscribe_caption, 12)) * 12 * 1.3 + 9 * 1.3
        )
    caption = 15 * 1.3 if zalo is None else 2 * 13 * 1.3
    room = y - band - texts_below - caption - 2.0 * cm
    side = min(15 * cm if zalo is None else 8.5 * cm, room)
    block = 0.6 * cm + side + 0.5 * cm + caption + texts_below
    top = y - 0.6 * cm - max(y - band - block, 0) / 2
    if zalo is None:
        qr(png, (width - side) / 2, top - side, side)
        y = centred("Telegram", top - side - 0.5 * cm, 15)
    else:
        gap = width - 2 * margin - 2 * side
        left, right = margin + gap / 3, width - margin - gap / 3 - side
        qr(png, left, top - side, side)
        qr(zalo[1], right, top - side, side)
        below = top - side - 0.5 * cm
        centred("Telegram", below, 15, x=left + side / 2, room=side)
        y = centred(
            _("Zalo: then type the name of your commune"), below, 13, x=right + side / 2, room=side
        )
    y = centred(how, y - 0.4 * cm, 15)
    y = centred(link, y - 0.2 * cm, 11)
    if zalo is not None:
        y = centred(zalo[0], y, 11)
    if subscribe is not None:
        sub_link, sub_png = subscribe
        y -= 0.4 * cm
        qr(sub_png, (width - SUBSCRIBE_SIDE * cm) / 2, y - SUBSCRIBE_SIDE * cm, SUBSCRIBE_SIDE * cm)
        y = centred(subscribe_caption, y - SUBSCRIBE_SIDE * cm - 0.4 * cm, 12)
        centred(sub_link, y, 9)
    page.showPage()
    page.save()
    return buf.getvalue()


def poster_png(link: str, unit_name: str, font: Path | None) -> bytes:
    """The QR code with the commune's name and "Telegram" under it (for a screen or a
    chat), not the bare code."""
    from PIL import Image, ImageDraw, ImageFont

    from db.units import fold

    code = Image.open(io.BytesIO(qr_png(link))).convert("RGB")
    size = code.width // 12
    face = ImageFont.truetype(str(font), size) if font is not None else ImageFont.load_default(size)
    name = unit_name if font is not None else fold(unit_name).title()
    lines = wrap(name, code.width - 2 * size, lambda t: face.getlength(t)) + ["Telegram"]
    poster = Image.new(
        "RGB", (code.width, code.height + len(lines) * int(size * 1.4) + size), "white"
    )
    poster.paste(code, (0, 0))
    draw = ImageDraw.Draw(poster)
    for i, line in enumerate(lines):
        y = code.height + i * int(size * 1.4)  # below the quiet zone: it stays scannable
        draw.text((code.width / 2, y), line, fill="black", font=face, anchor="ma")
    buf = io.BytesIO()
    poster.save(buf, format="PNG")
    return buf.getvalue()


async def poster_unit(db: Database, unit_code: str) -> tuple[str, str]:
    """The (code, name) of the unit a poster is for; a merged unit's successor."""
    from db import tips
    from db.session import UnitOfWork
    from db.units import by_code

    async with UnitOfWork(db) as uow:
        unit = await by_code(uow.session, unit_code)
        if unit is None:
            raise UserError(_("unknown unit {code}").format(code=unit_code))
        unit = await tips.current_unit(uow.session, unit)
        if unit.valid_to is not None:
            raise UserError(_("{name} no longer exists").format(name=unit.name))
        return unit.code, unit.name


def write_poster(
    code: str, name: str, *, bot: str, out: Path, font: Path | None, zalo: str | None = None
) -> tuple[Path, Path, str]:
    """Write both files for the unit; (png path, pdf path, link)."""
    link = tip_link(bot, code)
    face = find_font(font)
    zalo_code = (zalo, qr_png(zalo)) if zalo else None
    sub_link = subscribe_link(bot, code)
    sub_png = qr_png(sub_link)
    pdf = poster_pdf(link, name, qr_png(link), face, subscribe=(sub_link, sub_png), zalo=zalo_code)
    out.mkdir(parents=True, exist_ok=True)
    png_path, pdf_path = out / f"tip-{code}.png", out / f"tip-{code}.pdf"
    png_path.write_bytes(poster_png(link, name, face))
    (out / f"sub-{code}.png").write_bytes(sub_png)
    pdf_path.write_bytes(pdf)
    return png_path, pdf_path, link


async def qr_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings

    settings = get_settings()
    bot = args.bot or settings.telegram_bot_username
    if not bot:
        raise UserError(_("Set ANTT_TELEGRAM_BOT_USERNAME or pass --bot USERNAME"))
    if args.font is None and find_font() is None:
        print(
            _(
                "No font with Vietnamese letters found: the poster is printed without accents. "
                "Pass --font FILE.ttf to fix."
            )
        )
    async with open_database(settings, existing=True) as db:
        code, name = await poster_unit(db, args.unit)
    zalo = args.zalo or settings.zalo_bot_link
    png, pdf, link = write_poster(code, name, bot=bot, out=args.output, font=args.font, zalo=zalo)
    print(_("Link: {link}").format(link=link))
    print(_("Announcements: {link}").format(link=subscribe_link(bot, code)))
    print(_("Wrote {png} and {pdf}").format(png=png, pdf=pdf))
    return 0
