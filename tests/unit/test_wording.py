"""The Vietnamese wording of issue 16: one meaning for "tiếp nhận", one kind of quotes,
and the rewordings that read oddly before."""

from __future__ import annotations

from tests.unit.test_catalogue import catalogue, entries, forms


def vi(msgid: str) -> str:
    entry = catalogue("vi").get(msgid)
    assert entry is not None, msgid
    return forms(entry.string)[0]


def test_vietnamese_uses_curly_quotes_only() -> None:
    straight = [
        forms(e.id)[0] for e in entries(catalogue("vi")) if any('"' in s for s in forms(e.string))
    ]
    assert not straight, f"straight quotes in: {straight}"


def test_tiep_nhan_means_acknowledged_only() -> None:
    # Received at submission and the time a tip was sent are not "tiếp nhận".
    for msgid in (
        "Your tip has been received and sent to {unit}.",
        "Received: {time}",
        "Tips cannot be received yet. {emergency}",
        "No unit is set up to receive tips yet. {emergency}",
    ):
        assert "tiếp nhận" not in vi(msgid).lower(), msgid
    assert vi("Received: {time}") == "Thời gian gửi: {time}"
    for msgid in ("Acknowledge", "acknowledged", "Acknowledged."):
        assert "tiếp nhận" in vi(msgid).lower(), msgid


def test_rewordings() -> None:
    assert vi("no check-in yet") == "chưa có báo cáo"
    assert vi("You stay anonymous.") == "Tin báo được gửi ẩn danh."
    assert vi(
        "Do you want to stay anonymous? If you share your phone number, only the officers of "
        "{unit} will see it and may call you. Nobody else will."
    ).startswith("Bạn muốn giấu tên hay để lại số điện thoại?")
    reminder = vi("When it is done, check in so your supervisors see it.")
    assert reminder.startswith("Hãy báo cáo tiến độ, kể cả khi chưa xong")
