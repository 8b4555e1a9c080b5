"""Telegram updates -> Incoming (updates built by the fake Bot API's user helpers)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.channels.telegram.adapter import to_incoming
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
