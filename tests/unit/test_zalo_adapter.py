"""Zalo updates as live bots receive them (tests/fixtures/zalo_payloads.json) into
``Incoming``, and Zalo's error codes into what the sender does about them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.channels.base import PermanentError, RecipientBlocked, TransientError
from bot.channels.zalo.adapter import BadUpdate, to_incoming, unwrap
from bot.channels.zalo.channel import QuotaExceeded, map_error
from bot.channels.zalo.client import ZaloError
from handlers.types import MediaRef
from tests.fakes.zalo_api import real_payload

USER = "e4ea2cd5189df1c3a88c"


def incoming(name: str) -> Any:
    update = unwrap(real_payload(name))
    assert update is not None
    return to_incoming(update)


def test_text() -> None:
    inp = incoming("text")
    assert (inp.user_id, inp.chat_id, inp.text, inp.unsupported) == (USER, USER, "Xin chào", False)
    assert inp.update_id == "16f6366b3f02645a3d15"
    assert inp.received_at.isoformat() == "2025-12-24T23:39:57.466000+00:00"


def test_a_live_image_event_carries_its_photo_url_and_an_empty_caption_is_no_text() -> None:
    inp = incoming("image")
    assert inp.media == (
        MediaRef(
            "photo",
            "https://f20-zpc.zdn.vn/jpg/4521309815672841231/8d3a1b6c2f0e.jpg",
            mime="image/jpeg",
        ),
    )
    assert inp.text is None and not inp.unsupported


def test_the_documented_photo_field_is_read_too_with_its_caption() -> None:
    inp = incoming("image_documented")
    assert [m.file_id for m in inp.media] == [
        "https://f20-zpc.zdn.vn/jpg/4521309815672841231/9e4b2c7d301f.jpg"
    ]
    assert inp.text == "Quán nước đầu chợ"


def test_voice() -> None:
    inp = incoming("voice")
    assert inp.media == (
        MediaRef(
            "voice", "https://voice-aac-dl.zdn.vn/2173549862/1f2e3d4c5b6a.aac", mime="audio/aac"
        ),
    )
    assert not inp.unsupported


@pytest.mark.parametrize("name", ["sticker", "unsupported"])
def test_stickers_and_unsupported_messages_are_answered_as_unsupported(name: str) -> None:
    inp = incoming(name)
    assert inp.unsupported and inp.text is None and inp.media == () and inp.chat_id == USER


def test_an_unsupported_event_without_a_message_names_nobody() -> None:
    assert incoming("unsupported_bare") is None


@pytest.mark.parametrize(
    "message",
    [
        "text",
        {"chat": "x", "from": {"id": "x"}},
        {"chat": {"id": "x"}, "from": 7},
        {"chat": {"id": "x"}, "from": {"id": "x"}, "date": 10**30},
    ],
)
def test_a_malformed_update_raises_bad_update(message: Any) -> None:
    with pytest.raises(BadUpdate):
        to_incoming({"event_name": "message.text.received", "message": message})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("error_403", TransientError),  # Zalo's internal server error: never "blocked"
        ("error_410", RecipientBlocked),
        ("error_422", RecipientBlocked),
        ("error_429", QuotaExceeded),
        ("empty_poll", TransientError),
    ],
)
def test_zalo_error_codes_by_zalo_meanings(name: str, kind: type) -> None:
    body = real_payload(name)
    mapped = map_error(ZaloError("sendMessage", body["error_code"], body["description"]))
    assert type(mapped) is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [(0, TransientError), (500, TransientError), (502, TransientError), (400, PermanentError)],
)
def test_network_server_and_request_errors(status: int, kind: type) -> None:
    assert type(map_error(ZaloError("sendMessage", status, "x"))) is kind
    assert issubclass(QuotaExceeded, TransientError)  # retried with backoff, attempts counted
