"""Telegram updates -> Incoming (updates built by the fake Bot API's user helpers)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from telegram import Update

from bot.channels.telegram.adapter import to_incoming, trim_pressed
from bot.channels.telegram.transport import UpdatesRequest
from handlers.types import Incoming, Location
from tests.fakes.telegram_api import FakeTelegramAPI


@pytest.fixture(scope="module")
def api() -> FakeTelegramAPI:
    return FakeTelegramAPI()  # not started: only its update builders are used


def convert(update: dict[str, Any]) -> Incoming | None:
    return to_incoming(Update.de_json(update, None))


def test_text(api: FakeTelegramAPI) -> None:
    inp = convert(api.user_message(7, "hello", first_name="Lan", last_name="Lê", push=False))
    assert inp is not None
    assert (inp.channel, inp.user_id, inp.chat_id, inp.text) == ("telegram", "7", "7", "hello")
    assert inp.display_name == "Lan Lê" and inp.language_code == "vi"
    assert inp.command is None and inp.update_id is not None


def test_command_with_deep_link_and_bot_name(api: FakeTelegramAPI) -> None:
    inp = convert(api.user_message(7, "/Start@antt_test_bot inv_ABC", push=False))
    assert inp is not None and inp.command == "start" and inp.args == "inv_ABC"


def test_callback(api: FakeTelegramAPI) -> None:
    inp = convert(api.callback(8, "m:lang", push=False))
    assert inp is not None and inp.choice == "m:lang" and inp.chat_id == "8"


def test_photo_takes_the_largest_size_and_caption(api: FakeTelegramAPI) -> None:
    inp = convert(api.user_photo(9, "ph-1", caption="fire", push=False))
    assert inp is not None and inp.text == "fire"
    (media,) = inp.media
    assert media.kind == "photo" and media.file_id == "ph-1"


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (lambda api: api.user_document(9, "d-1", "a.pdf", push=False), "document"),
        (lambda api: api.user_voice(9, "v-1", push=False), "voice"),
        (lambda api: api.user_video(9, "vi-1", push=False), "video"),
    ],
)
def test_other_media(api: FakeTelegramAPI, build: Any, kind: str) -> None:
    inp = convert(build(api))
    assert inp is not None and [m.kind for m in inp.media] == [kind]


def test_location_and_own_contact(api: FakeTelegramAPI) -> None:
    inp = convert(api.user_location(9, 18.5, 105.5, push=False))
    assert inp is not None and inp.location == Location(18.5, 105.5)
    inp = convert(api.user_contact(9, "+84911", push=False))
    assert inp is not None and inp.contact_phone == "+84911"


def test_someone_elses_contact_is_not_taken_as_the_senders_phone(api: FakeTelegramAPI) -> None:
    inp = convert(api.user_contact(9, "+84922", contact_user_id=10, push=False))
    assert inp is not None and inp.contact_phone is None


def test_groups_and_edits_are_ignored(api: FakeTelegramAPI) -> None:
    update = api.user_message(9, "hi", push=False)
    update["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "G"}
    assert convert(update) is None
    edited = api.user_message(9, "hi", push=False)
    edited["edited_message"] = edited.pop("message")
    edited["edited_message"]["edit_date"] = edited["edited_message"]["date"]
    assert convert(edited) is None


# --- a pressed button's message, trimmed before PTB parses it (issue 17) ----------------


def pressed_update(chat_type: str = "private") -> dict[str, Any]:
    """A press on a menu as the Bot API sends it: the whole message, keyboard included."""
    keyboard = [[{"text": f"Mục {i}", "callback_data": f"m:item{i}"}] for i in range(8)]
    return {
        "update_id": 901,
        "callback_query": {
            "id": "q-1",
            "chat_instance": "ci",
            "data": "m:item3",
            "from": {"id": 42, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
            "message": {
                "message_id": 55,
                "date": 1764500000,
                "chat": {"id": 42, "type": chat_type, "first_name": "Lan"},
                "from": {"id": 1, "is_bot": True, "first_name": "ANTT"},
                "text": "/menu Trang chính",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                "reply_markup": {"inline_keyboard": keyboard},
            },
        },
    }


def test_a_pressed_message_keeps_only_what_is_read() -> None:
    update = trim_pressed(pressed_update())
    assert update["callback_query"]["message"] == {
        "message_id": 55,
        "date": 1764500000,
        "chat": {"id": 42, "type": "private", "first_name": "Lan"},
    }
    assert update["callback_query"]["data"] == "m:item3"
    inp = convert(update)
    assert inp is not None
    assert (inp.user_id, inp.chat_id, inp.message_id, inp.choice) == ("42", "42", "55", "m:item3")
    assert inp == convert(pressed_update())  # the same Incoming as from the whole update


def test_a_press_in_a_group_is_still_ignored_after_trimming() -> None:
    assert convert(trim_pressed(pressed_update("group"))) is None


def test_other_updates_are_left_as_they_are(api: FakeTelegramAPI) -> None:
    text = api.user_message(7, "hello", push=False)
    assert trim_pressed(copy.deepcopy(text)) == text
    inline = pressed_update()
    del inline["callback_query"]["message"]
    inline["callback_query"]["inline_message_id"] = "im-1"
    assert trim_pressed(copy.deepcopy(inline)) == inline


def test_get_updates_answers_are_trimmed_before_ptb_reads_them() -> None:
    text = {"update_id": 900, "message": {"message_id": 3, "date": 1, "text": "hi"}}
    payload = json.dumps({"ok": True, "result": [text, pressed_update()]}).encode()
    data = UpdatesRequest.parse_json_payload(payload)
    assert data["ok"] is True
    assert data["result"][0] == text
    assert set(data["result"][1]["callback_query"]["message"]) == {"message_id", "date", "chat"}
    failed = {"ok": False, "error_code": 409, "description": "Conflict"}
    assert UpdatesRequest.parse_json_payload(json.dumps(failed).encode()) == failed
