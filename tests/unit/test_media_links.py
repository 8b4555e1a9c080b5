"""Signed links to kept files (``bot.media_links``): served while valid, refused when
forged, altered, expired or pointing at nothing; none without a public URL."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.media_store import media_root, store_bytes
from bot.config import Settings
from bot.media_links import media_link, mount_media

JPEG = b"\xff\xd8\xff\xe0 kept photo"


async def test_links_are_served_while_valid_and_refused_otherwise(tmp_path: Path) -> None:
    settings = Settings(public_url="https://bot.example.vn/", data_dir=tmp_path, secret_key="k1")  # type: ignore[call-arg]
    _digest, path = store_bytes(media_root(tmp_path), JPEG)
    link = media_link(settings, str(path))
    assert link is not None and link.startswith(f"https://bot.example.vn/media/{path.name}/")
    app = web.Application()
    mount_media(app, settings)
    mount_media(app, settings)  # a second mount is harmless
    async with TestClient(TestServer(app)) as client:
        route = link.removeprefix("https://bot.example.vn")
        resp = await client.get(route)
        assert (resp.status, await resp.read(), resp.content_type) == (200, JPEG, "image/jpeg")
        sha, expires, sig = route.split("/")[2:]
        forged = f"/media/{sha}/{int(expires) + 1}/{sig}"  # a longer life, same signature
        assert (await client.get(forged)).status == 403
        other_key = Settings(public_url="https://x", data_dir=tmp_path, secret_key="k2")  # type: ignore[call-arg]
        foreign = media_link(other_key, str(path))
        assert foreign is not None
        assert (await client.get(foreign.removeprefix("https://x"))).status == 403
        old = media_link(settings, str(path), now=time.time() - 8 * 24 * 3600)
        assert old is not None
        assert (await client.get(old.removeprefix("https://bot.example.vn"))).status == 403
        missing = media_link(settings, str(path.with_name("0" * 64)))
        assert missing is not None
        assert (await client.get(missing.removeprefix("https://bot.example.vn"))).status == 404


def test_no_public_url_no_link(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)  # type: ignore[call-arg]
    assert media_link(settings, str(tmp_path / ("a" * 64))) is None
