"""Message -> Bot API calls: keyboards, requests, images, splitting."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.channels.telegram.render import (
    CAPTION_LIMIT,
    NO_PREVIEW,
    TEXT_LIMIT,
    inline_keyboard,
    plain,
    render_message,
    render_reply,
    split_for_telegram,
    visible_units,
)
from handlers.i18n import set_language
from handlers.render import esc
from handlers.types import Choice, Message


@pytest.fixture(autouse=True)
def english() -> None:
    set_language("en")


def test_choices_become_inline_rows_of_columns() -> None:
    msg = Message("Pick", choices=[Choice(f"c:{i}", f"Option {i}") for i in range(5)], columns=2)
    (call,) = render_message(msg)
    assert call.method == "send_message" and call.kwargs["parse_mode"] == "HTML"
    markup = call.kwargs["reply_markup"]
    assert isinstance(markup, InlineKeyboardMarkup)
    rows = [[b.callback_data for b in row] for row in markup.inline_keyboard]
    assert rows == [["c:0", "c:1"], ["c:2", "c:3"], ["c:4"]]


def test_callback_data_over_64_bytes_is_refused() -> None:
    ok = "x" * 64
    render_message(Message("ok", choices=[Choice(ok, "fine")]))
    too_long = "đ" * 33  # 66 bytes in UTF-8, 33 characters
    with pytest.raises(ValueError, match="64 bytes"):
        render_message(Message("no", choices=[Choice(too_long, "bad")]))


def test_location_request_is_a_one_time_reply_keyboard() -> None:
    (call,) = render_message(Message("Where?", request="location"))
    markup = call.kwargs["reply_markup"]
    assert isinstance(markup, ReplyKeyboardMarkup) and markup.one_time_keyboard
    button = markup.keyboard[0][0]
    assert button.request_location and button.text == "Share my location"


def test_contact_request_with_its_own_label() -> None:
    (call,) = render_message(Message("Phone?", request="contact", request_label="Send phone"))
    button = call.kwargs["reply_markup"].keyboard[0][0]
    assert button.request_contact and button.text == "Send phone"


def test_request_and_choices_need_two_messages() -> None:
    msg = Message("Where?", choices=[Choice("skip", "Skip")], request="location")
    first, second = render_message(msg)
    assert isinstance(first.kwargs["reply_markup"], InlineKeyboardMarkup)
    assert isinstance(second.kwargs["reply_markup"], ReplyKeyboardMarkup)


def test_remove_keyboard_goes_on_the_first_call_without_a_keyboard() -> None:
    calls = render_reply(
        [Message("Thanks", remove_keyboard=True), Message("Next?", choices=[Choice("a", "A")])]
    )
    assert isinstance(calls[0].kwargs["reply_markup"], ReplyKeyboardRemove)
    assert isinstance(calls[1].kwargs["reply_markup"], InlineKeyboardMarkup)
    # Asked for the whole reply, it waits for a call that has room for it.
    calls = render_reply(
        [Message("A", choices=[Choice("a", "A")]), Message("B")], remove_keyboard=True
    )
    assert isinstance(calls[1].kwargs["reply_markup"], ReplyKeyboardRemove)
    # A new request keyboard replaces the old one; nothing to remove.
    calls = render_reply([Message("Where?", request="location")], remove_keyboard=True)
    assert isinstance(calls[0].kwargs["reply_markup"], ReplyKeyboardMarkup)


def test_long_text_is_split_and_keyboard_goes_last() -> None:
    line = esc("<tag> & text ") * 20
    text = "\n".join([line] * 40)  # 10 400 visible characters
    calls = render_message(Message(text, choices=[Choice("a", "A")]))
    assert len(calls) == 3
    assert all(visible_units(c.kwargs["text"]) <= TEXT_LIMIT for c in calls)
    assert [("reply_markup" in c.kwargs) for c in calls] == [False, False, True]


def test_emoji_count_twice() -> None:
    text = "😀" * 3000  # 3000 characters, 6000 UTF-16 units
    parts = split_for_telegram(text)
    assert len(parts) > 1 and all(visible_units(p) <= TEXT_LIMIT for p in parts)


def test_image_with_short_text_has_a_caption() -> None:
    (call,) = render_message(Message("<b>Chart</b>", image=b"png", choices=[Choice("a", "A")]))
    assert call.method == "send_photo"
    assert call.kwargs["caption"] == "<b>Chart</b>" and "reply_markup" in call.kwargs


def test_image_with_long_text_is_followed_by_the_text() -> None:
    text = "y" * (CAPTION_LIMIT + 1)
    photo, message = render_message(Message(text, image=b"png", choices=[Choice("a", "A")]))
    assert photo.method == "send_photo" and "caption" not in photo.kwargs
    assert message.kwargs["text"] == text and "reply_markup" in message.kwargs


def test_empty_text_is_skipped_unless_it_carries_a_keyboard() -> None:
    assert render_message(Message("")) == []
    (call,) = render_message(Message("", choices=[Choice("a", "A")]))
    assert call.kwargs["text"].strip()


def test_plain_gives_the_bot_apis_json_once_per_keyboard() -> None:
    menu = inline_keyboard([Choice("m:tip", "Gửi tin"), Choice("m:lang", "Ngôn ngữ")], columns=2)
    other = inline_keyboard([Choice("m:tip", "Gửi tin"), Choice("m:me", "Ngôn ngữ")], columns=2)
    expected = {
        "inline_keyboard": [
            [
                {"text": "Gửi tin", "callback_data": "m:tip"},
                {"text": "Ngôn ngữ", "callback_data": "m:lang"},
            ]
        ]
    }
    assert plain(menu) == expected
    assert plain(menu) is plain(menu)  # made once
    assert plain(other)["inline_keyboard"][0][1]["callback_data"] == "m:me"
    assert plain(NO_PREVIEW) == {"is_disabled": True}
    assert plain("<b>x</b>") == "<b>x</b>" and plain(42) == 42
