"""Links to kept files, for messengers that take a photo only by URL (Zalo).

``media_link(settings, stored_path)`` gives
``<ANTT_PUBLIC_URL>/media/<sha256>/<expires>/<signature>``: signed with a key
derived from ``ANTT_SECRET_KEY``, valid for ``LINK_SECONDS``; with ``name`` (a
leaflet's file name) ``/<name>`` follows, and the file is served under that name
(the name is not signed: it changes only what the download is called); ``serve_media``
(mounted on our web server) answers it from ``<data_dir>/media`` and refuses a
link that is forged, altered or expired. Without a public URL there are no
links: the channel then falls back to the messenger's own URL, if it has one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from bot.channels.media_store import media_root
from bot.config import Settings
from db.sealed import derived_key

LINK_SECONDS = 7 * 24 * 3600  # a voice message's link is opened later than a photo is fetched
ROUTE = "/media/{sha}/{expires}/{sig}"
NAMED_ROUTE = ROUTE + "/{name}"
_LINK_INFO = b"antt/media-link/v1"
_SHA = re.compile(r"[0-9a-f]{64}")
# Content types by the first bytes (the stored name is only the checksum).
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG", "image/png"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
    (b"\xff\xf1", "audio/aac"),
    (b"\xff\xf9", "audio/aac"),
    (b"OggS", "audio/ogg"),
    (b"%PDF", "application/pdf"),
)


def _signature(settings: Settings, sha: str, expires: int) -> str:
    key = derived_key(settings, _LINK_INFO)
    return hmac.new(key, f"{sha}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def media_link(
    settings: Settings, stored_path: str, *, name: str | None = None, now: float | None = None
) -> str | None:
    """A signed public URL of a kept file, or None without ``ANTT_PUBLIC_URL``."""
    if not settings.public_url:
        return None
    sha = Path(stored_path).name
    if not _SHA.fullmatch(sha):
        return None
    expires = int(now if now is not None else time.time()) + LINK_SECONDS
    base = settings.public_url.rstrip("/")
    url = f"{base}/media/{sha}/{expires}/{_signature(settings, sha, expires)}"
    shown = (name or "").replace("/", "-").replace("\\", "-").strip()
    return f"{url}/{quote(shown, safe='')}" if shown else url


def public_links(settings: Settings) -> Callable[[str, str | None], str | None] | None:
    """``media_link`` for these settings (a kept file's path, its name), or None without
    a public URL."""
    if not settings.public_url:
        return None

    def link(stored_path: str, name: str | None) -> str | None:
        return media_link(settings, stored_path, name=name)

    return link


def content_type(head: bytes) -> str:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "application/octet-stream"


def mount_media(app: web.Application, settings: Settings) -> None:
    """Serve signed links to kept files on ``app`` (once)."""
    if any(getattr(r, "canonical", None) == ROUTE for r in app.router.resources()):
        return
    root = media_root(settings.data_dir)

    async def serve_media(request: web.Request) -> web.StreamResponse:
        sha, expires = request.match_info["sha"], request.match_info["expires"]
        given = request.match_info["sig"]
        if not (_SHA.fullmatch(sha) and expires.isdigit()):
            raise web.HTTPNotFound()
        wanted = _signature(settings, sha, int(expires))
        if not hmac.compare_digest(given, wanted) or int(expires) < time.time():
            raise web.HTTPForbidden()
        path = root / sha[:2] / sha
        try:
            data = path.read_bytes()
        except OSError:
            raise web.HTTPNotFound() from None
        response = web.Response(body=data, content_type=content_type(data[:8]))
        name = request.match_info.get("name")
        if name:
            response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(name)}"
        return response

    app.router.add_get(ROUTE, serve_media)
    app.router.add_get(NAMED_ROUTE, serve_media)
