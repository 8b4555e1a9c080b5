"""``antt qr --unit CODE [--output DIR] [--bot USERNAME] [--font TTF]``: a tip poster.

Writes ``tip-<code>.png`` (the QR code) and ``tip-<code>.pdf`` (a printable A4
poster for the notice board of a commune hall). The QR code holds the deep link
``https://t.me/<bot>?start=tip_<code>``, which opens the bot's tip flow with that
commune already chosen. ``qrcode`` (Pillow backend) and ``reportlab`` are imported
only when the command runs.

Vietnamese needs a TrueType font with its letters: ``--font``, else DejaVu Sans,
Noto Sans, Liberation Sans or Arial where the system has one; without any, the
poster falls back to reportlab's own font and prints the texts without accents.
"""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import UserError
from handlers.i18n import _

if TYPE_CHECKING:
    from db.session import Database

# Telegram allows only these in a start parameter (64 at most, "tip_" included).
SAFE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
FONT_CANDIDATES = (
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
        "qr", help=_("write a QR-code poster (PNG and A4 PDF) for sending tips to a commune")
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
        "--font", type=Path, metavar="TTF", help=_("a TrueType font with Vietnamese letters")
    )
    parser.set_defaults(handler=qr_command)


def tip_link(bot_username: str, unit_code: str) -> str:
    """The deep link that opens the tip flow with ``unit_code`` chosen."""
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
    return f"https://t.me/{bot}?start=tip_{unit_code}"


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


def poster_pdf(link: str, unit_name: str, png: bytes, font: Path | None) -> bytes:
    """An A4 page: title, the commune, the QR code, how to use it, the emergency numbers."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import cm
    from reportlab.lib.utils import ImageReader, simpleSplit
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

    buf = io.BytesIO()
    page = canvas.Canvas(buf, pagesize=A4)
    page.setTitle(shown(_("Send a tip: {unit}").format(unit=unit_name)))
    page.setSubject(link)
    width, height = A4

    def centred(text: str, y: float, size: float) -> float:
        """Draw wrapped, centred lines from ``y`` down; the y below them."""
        for line in simpleSplit(shown(text), face, size, width - 4 * cm):
            page.setFont(face, size)
            page.drawCentredString(width / 2, y, line)
            y -= size * 1.3
        return y

    y = height - 3 * cm
    y = centred(_("Report security and order problems to the police"), y, 26)
    y = centred(unit_name, y - 0.4 * cm, 22)
    side = 12 * cm
    y -= 0.6 * cm
    page.drawImage(ImageReader(io.BytesIO(png)), (width - side) / 2, y - side, side, side)
    y -= side + 1.0 * cm
    y = centred(
        _(
            "Scan the code with your phone's camera to send a tip on Telegram: text, photos, "
            "video or your location. You may stay anonymous."
        ),
        y,
        14,
    )
    y = centred(link, y - 0.2 * cm, 11)
    centred(_("In an emergency call 113 (police), 114 (fire), 115 (ambulance)."), y - 0.6 * cm, 16)
    page.showPage()
    page.save()
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
    code: str, name: str, *, bot: str, out: Path, font: Path | None
) -> tuple[Path, Path, str]:
    """Write both files for the unit; (png path, pdf path, link)."""
    link = tip_link(bot, code)
    png = qr_png(link)
    pdf = poster_pdf(link, name, png, find_font(font))
    out.mkdir(parents=True, exist_ok=True)
    png_path, pdf_path = out / f"tip-{code}.png", out / f"tip-{code}.pdf"
    png_path.write_bytes(png)
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
    png, pdf, link = write_poster(code, name, bot=bot, out=args.output, font=args.font)
    print(_("Link: {link}").format(link=link))
    print(_("Wrote {png} and {pdf}").format(png=png, pdf=pdf))
    return 0
