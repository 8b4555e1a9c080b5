"""A citizen sends a tip: no registration, anonymous unless they choose otherwise.

The draft lives in the conversation until the citizen confirms; then the tip, its
first events, its media, the sealed reporter link, the rate-limit mark and the
officers' notifications are written in the engine's one transaction, and only
after that commit is the citizen told the tip was received (with its tracking
code, shown once).

```mermaid
flowchart TD
    start(["menu 'Send a tip', /tip, or /start tip_UNIT"]) --> limit{tips in the last hour < max?}
    limit -- no --> refused[come back later]
    limit -- yes --> category[category, after the emergency numbers]
    category --> description[description, up to tip_max_text]
    description --> media["photos, video, voice, documents (up to tip_max_media) — Done"]
    media -- commune preset by the poster --> detail
    media --> place{place}
    place -- share location --> nearest[nearest commune with coordinates] --> detail
    place -- type a name --> search[accent-insensitive search] --> detail
    place -- choose from the list --> district[district, paginated]
    district --> commune[commune, paginated] --> detail
    detail[details of the place or Skip] --> contact{anonymous or phone}
    contact --> confirm[summary]
    confirm -- Send --> saved[(tip + events + routing + outbox, one commit)] --> code[tracking code]
    confirm -- Cancel --> menu([menu])
```
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from db import rate_limits
from db import tips as repo
from db.models import COMMUNE_LEVEL, DISTRICT_LEVEL, Unit
from db.sealed import ReporterLink
from db.units import by_code, by_id, search_by_name
from handlers import triage
from handlers.flow import (
    Context,
    Flow,
    Invalid,
    MenuEntry,
    StepDef,
    choice_or_text,
    menu_choices,
    registry,
)
from handlers.i18n import _, format_time, ngettext
from handlers.render import bold, esc
from handlers.start import COMMAND_HELP, cancel_button
from handlers.types import Choice, Incoming, Message, Reply

log = logging.getLogger(__name__)

FLOW_NAME = "tip"
P = "tip:"
PAGE = 10
PLACE_MAX = 500
SUMMARY_TEXT = 600
LOCATION_DECIMALS = 3  # about 110 m of latitude
EXACT = f"{P}exact"
ROUGH = f"{P}rough"
PHONE = re.compile(r"^\+?[0-9][0-9 .-]{7,16}[0-9]$")
SEARCH_KINDS = [k.value for k in (*COMMUNE_LEVEL, *DISTRICT_LEVEL)]


class Step(StrEnum):
    CATEGORY = "category"
    DESCRIPTION = "description"
    MEDIA = "media"
    PLACE = "place"
    DISTRICT = "district"
    COMMUNE = "commune"
    DETAIL = "detail"
    CONTACT = "contact"
    CONFIRM = "confirm"


def emergency_line() -> str:
    return _("In an emergency call 113 (police), 114 (fire), 115 (ambulance).")


# --- entry -----------------------------------------------------------------------------


def _clock(moment: dt.datetime) -> str:
    return format_time(moment)


async def _over_limit(ctx: Context) -> dt.datetime | None:
    """When the person may send again, if they reached ``tip_max_per_hour``; else None."""
    hour = dt.timedelta(hours=1)
    times = await rate_limits.times(
        ctx.session, ctx.settings, rate_limits.TIP_SUBMIT, ctx.identity.id, ctx.now - hour, ctx.now
    )
    if len(times) < ctx.settings.tip_max_per_hour:
        return None
    return times[len(times) - ctx.settings.tip_max_per_hour] + hour


def _limit_text(ctx: Context, until: dt.datetime) -> str:
    return _(
        "You have sent {count} tips in the last hour, the most allowed. "
        "You can send another after {time}."
    ).format(count=ctx.settings.tip_max_per_hour, time=_clock(until))


async def begin(ctx: Context, *, unit: Unit | None = None, note: str | None = None) -> Reply:
    """Start the flow (optionally with the commune already chosen by a poster's link)."""
    until = await _over_limit(ctx)
    if until is not None:
        ctx.finish()
        return [Message(_limit_text(ctx, until), choices=menu_choices(ctx))]
    if not await repo.categories(ctx.session):
        ctx.finish()
        return [
            Message(
                _("Tips cannot be received yet. {emergency}").format(emergency=emergency_line()),
                choices=menu_choices(ctx),
            )
        ]
    ctx.finish()
    data: dict[str, Any] = {"media": []}
    if unit is not None:
        data.update(unit_id=unit.id, routed_by="poster", preset=True)
    ctx.goto(FLOW_NAME, Step.CATEGORY, **data)
    reply = await ask_category(ctx)
    if note:
        reply.insert(0, Message(note))
    return reply


async def deep_link(ctx: Context, rest: str) -> Reply:
    """``/start tip_<unit code>``: the poster of a commune hall."""
    unit = await by_code(ctx.session, rest) or await by_code(ctx.session, rest.lower())
    if unit is not None:
        unit = await repo.current_unit(ctx.session, unit)
    if unit is None or unit.valid_to is not None:
        return await begin(
            ctx, note=_("The commune of this link was not found; you can choose the place below.")
        )
    return await begin(ctx, unit=unit)


async def _menu_start(ctx: Context) -> Reply:
    return await begin(ctx)


async def _command(ctx: Context, args: str) -> Reply:
    return await begin(ctx)


# --- category ---------------------------------------------------------------------------


async def _category_choices(ctx: Context) -> list[Choice]:
    return [
        Choice(f"{P}cat:{c.code}", triage.category_name(c))
        for c in await repo.categories(ctx.session)
    ]


async def ask_category(ctx: Context) -> Reply:
    text = "\n\n".join(
        [
            bold(emergency_line()),
            _(
                "Here you can send information about crime, drugs, traffic violations, "
                "weapons, online fraud, fire hazards and other security problems. "
                "You may stay anonymous."
            ),
            _("What is it about?"),
        ]
    )
    return [Message(text, choices=[*await _category_choices(ctx), _cancel_choice()])]


def _cancel_choice() -> Choice:
    return Choice(f"{P}cancel", _("Cancel"))


async def on_category(ctx: Context, inp: Incoming) -> Reply:
    picked = choice_or_text(inp, [*await _category_choices(ctx), _cancel_choice()])
    if picked == f"{P}cancel":
        ctx.finish()
        return [Message(_("Cancelled. Nothing was sent."), choices=menu_choices(ctx))]
    if picked is None:
        raise Invalid(_("Please choose one of the categories below."))
    ctx.update(category=picked[len(f"{P}cat:") :])
    ctx.goto(FLOW_NAME, Step.DESCRIPTION)
    return await ask_description(ctx)


# --- description and media --------------------------------------------------------------


async def ask_description(ctx: Context) -> Reply:
    text = _(
        "Describe what you saw or know: what happened, when, who was involved. "
        "Up to {limit} characters. Do not put your name here if you want to stay anonymous."
    ).format(limit=ctx.settings.tip_max_text)
    return [Message(f"{text}\n\n{files_warning()}", choices=[cancel_button()])]


def files_warning() -> str:
    """What a file keeps when it reaches the officers (said before any can be sent)."""
    return _(
        "About files: documents keep what is inside them (for example the name of their "
        "author), so check them before sending. Photos lose where and with which phone they "
        "were taken, and no file keeps its name."
    )


def _too_long(ctx: Context, length: int) -> str:
    return _(
        "Your text has {length} characters; the limit is {limit}. "
        "Please shorten it and send it again."
    ).format(length=length, limit=ctx.settings.tip_max_text)


def _media(ctx: Context) -> list[dict[str, Any]]:
    return list(ctx.data.get("media", []))


def _take_media(ctx: Context, inp: Incoming) -> int:
    """Keep the files of this update up to the limit; the number that did not fit."""
    kept = _media(ctx)
    dropped = 0
    for ref in inp.media:
        if len(kept) >= ctx.settings.tip_max_media:
            dropped += 1
            continue
        kept.append(repo.MediaItem(ref.kind, ref.file_id, ref.mime, ref.size).as_json())
    ctx.update(media=kept)
    return dropped


def _dropped_text(ctx: Context, dropped: int) -> str:
    return _(
        "A tip can have at most {limit} files; {dropped} of the files you sent were not added."
    ).format(limit=ctx.settings.tip_max_media, dropped=dropped)


async def on_description(ctx: Context, inp: Incoming) -> Reply:
    text = (inp.text or "").strip()
    notes: list[Message] = []
    if inp.media:
        # A photo with a caption: keep the photo whatever happens to the caption.
        dropped = _take_media(ctx, inp)
        if dropped:
            notes.append(Message(_dropped_text(ctx, dropped)))
        if not text:
            notes.append(
                Message(_("The file is kept. Now please describe in words what happened."))
            )
            return notes
    if not text:
        raise Invalid(_("Please describe what happened in a few words."))
    if len(text) > ctx.settings.tip_max_text:
        if inp.media:
            return [*notes, Message(_too_long(ctx, len(text)))]
        raise Invalid(_too_long(ctx, len(text)))
    ctx.update(description=text)
    ctx.goto(FLOW_NAME, Step.MEDIA)
    return [*notes, *await ask_media(ctx)]


def _done_choice(ctx: Context) -> Choice:
    count = len(_media(ctx))
    return Choice(f"{P}done", _("Done") if count else _("Skip: no files"))


async def ask_media(ctx: Context) -> Reply:
    count = len(_media(ctx))
    if count:
        text = ngettext(
            "{count} file attached. Send more photos, videos, voice messages or documents "
            "(up to {limit}), or press Done.",
            "{count} files attached. Send more photos, videos, voice messages or documents "
            "(up to {limit}), or press Done.",
            count,
        ).format(count=count, limit=ctx.settings.tip_max_media)
    else:
        text = _(
            "You can add photos, videos, voice messages or documents (up to {limit}). "
            "Send them now, or press Skip."
        ).format(limit=ctx.settings.tip_max_media)
        text += "\n\n" + files_warning()
    return [Message(text, choices=[_done_choice(ctx), cancel_button()], columns=2)]


async def on_media(ctx: Context, inp: Incoming) -> Reply:
    if inp.media:
        dropped = _take_media(ctx, inp)
        notes = [Message(_dropped_text(ctx, dropped))] if dropped else []
        caption = (inp.text or "").strip()
        if caption:
            # On a line of its own, marked as the caption of a file, so it never runs on.
            joined = f"{ctx.data['description']}\n\n📎 {caption}"
            if len(joined) <= ctx.settings.tip_max_text:
                ctx.update(description=joined)
            else:
                notes.append(Message(_("The caption was not added: the text would be too long.")))
        return [*notes, *await ask_media(ctx)]
    if choice_or_text(inp, [_done_choice(ctx)]) is None:
        raise Invalid(_("Send a photo, video, voice message or document, or press the button."))
    return await _after_media(ctx)


async def _after_media(ctx: Context) -> Reply:
    if ctx.data.get("preset") and ctx.data.get("unit_id"):
        ctx.goto(FLOW_NAME, Step.DETAIL)
        return await ask_detail(ctx)
    ctx.goto(FLOW_NAME, Step.PLACE)
    return await ask_place(ctx)


# --- the place ---------------------------------------------------------------------------


async def ask_place(ctx: Context) -> Reply:
    text = _(
        "Where did it happen? Type the name of the commune or ward (for example: Nghi Hương), "
        "choose it from the list, or share your location."
    )
    return [
        Message(text, choices=[Choice(f"{P}pick", _("Choose from the list")), cancel_button()]),
        Message(
            _("To share where you are now, tap the button below.")
            + " "
            + _("Even an anonymous tip carries the exact place you share."),
            request="location",
            request_label=_("Share my location"),
        ),
    ]


async def _labelled(ctx: Context, units: Sequence[Unit]) -> list[Choice]:
    """Buttons for search results, with the district in brackets to tell namesakes apart."""
    choices = []
    for u in units:
        parent = await by_id(ctx.session, u.parent_id) if u.parent_id else None
        label = f"{u.name} ({parent.name})" if parent is not None else u.name
        choices.append(Choice(f"{P}u:{u.id}", label))
    return choices


async def _search(ctx: Context, text: str) -> Reply:
    """The place typed by name: one match is taken, several are offered."""
    if len(text) > 100:
        raise Invalid(_("That is too long for a place name."))
    found = await search_by_name(ctx.session, text, kinds=SEARCH_KINDS, limit=8)
    if not found:
        raise Invalid(
            _(
                'No commune or ward is called "{name}". Check the spelling, or choose from the '
                "list."
            ).format(name=esc(text))
        )
    if len(found) == 1:
        return await _chose(ctx, found[0], "named")
    choices = await _labelled(ctx, found)
    choices.append(Choice(f"{P}pick", _("Choose from the list")))
    return [Message(_("Which one do you mean?"), choices=choices)]


async def _unit_choice(ctx: Context, choice: str) -> Unit | None:
    raw = choice.rsplit(":", 1)[-1]
    if not raw.isdigit():
        return None
    unit = await by_id(ctx.session, int(raw))
    if unit is None or unit.valid_to is not None or unit.kind not in SEARCH_KINDS:
        return None
    return unit


async def _chose(ctx: Context, unit: Unit, how: str, *, lead: Reply | None = None) -> Reply:
    ctx.update(unit_id=unit.id, routed_by=how)
    ctx.goto(FLOW_NAME, Step.DETAIL)
    return [*(lead or []), *await ask_detail(ctx)]


async def _located(ctx: Context, inp: Incoming) -> Reply:
    assert inp.location is not None
    lat, lon = inp.location.lat, inp.location.lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid(_("That location could not be read. Please try again."))
    found = await repo.nearest_unit(ctx.session, lat, lon)
    if found is None:
        raise Invalid(
            _("No unit is set up to receive tips yet. {emergency}").format(
                emergency=emergency_line()
            )
        )
    unit, how = found
    # Where the reporter stands: sent only to about 100 m unless they choose otherwise.
    ctx.update(lat=lat, lon=lon, exact=False)
    lead = [
        Message(
            _("Location received. It will go to {unit}.").format(unit=esc(unit.name)),
            remove_keyboard=True,
        )
    ]
    return await _chose(ctx, unit, how, lead=lead)


async def _place_input(ctx: Context, inp: Incoming) -> Reply | None:
    """What the place steps have in common: a location, a search result, a typed name."""
    if inp.location is not None:
        return await _located(ctx, inp)
    if inp.choice == f"{P}pick":
        ctx.goto(FLOW_NAME, Step.DISTRICT, page=0)
        return await ask_district(ctx)
    if inp.choice and inp.choice.startswith(f"{P}u:"):
        unit = await _unit_choice(ctx, inp.choice)
        if unit is None:
            raise Invalid(_("That place is not available; please choose again."))
        return await _chose(ctx, unit, "named")
    text = (inp.text or "").strip()
    if text and not inp.choice and not text.isdigit():
        return await _search(ctx, text)
    return None


async def on_place(ctx: Context, inp: Incoming) -> Reply:
    reply = await _place_input(ctx, inp)
    if reply is None:
        raise Invalid(_("Type the name of the commune, choose from the list, or share a location."))
    return reply


def _paged(items: list[Choice], page: int, prefix: str) -> tuple[list[Choice], int]:
    pages = max(1, -(-len(items) // PAGE))
    page = min(max(page, 0), pages - 1)
    shown = items[page * PAGE : (page + 1) * PAGE]
    if page > 0:
        shown.append(Choice(f"{prefix}{page - 1}", _("◂ Previous")))
    if page + 1 < pages:
        shown.append(Choice(f"{prefix}{page + 1}", _("Next ▸")))
    return shown, page


async def ask_district(ctx: Context) -> Reply:
    districts = await repo.district_units(ctx.session)
    if not districts:
        ctx.goto(FLOW_NAME, Step.COMMUNE, district_id=None, page=0)
        return await ask_commune(ctx)
    items = [Choice(f"{P}d:{d.id}", d.name) for d in districts]
    shown, page = _paged(items, int(ctx.data.get("page", 0)), f"{P}dp:")
    text = _("Choose the district, town or city (or type the commune's name):")
    return [Message(text, choices=shown, columns=2)]


async def on_district(ctx: Context, inp: Incoming) -> Reply:
    if inp.choice and inp.choice.startswith(f"{P}dp:"):
        raw = inp.choice[len(f"{P}dp:") :]
        ctx.update(page=int(raw) if raw.isdigit() else 0)
        return await ask_district(ctx)
    if inp.choice and inp.choice.startswith(f"{P}d:"):
        district = await _unit_choice(ctx, inp.choice)
        if district is None:
            raise Invalid(_("That place is not available; please choose again."))
        ctx.goto(FLOW_NAME, Step.COMMUNE, district_id=district.id, page=0)
        return await ask_commune(ctx)
    reply = await _place_input(ctx, inp)
    if reply is None:
        raise Invalid(_("Please choose one of the buttons, or type the commune's name."))
    return reply


async def ask_commune(ctx: Context) -> Reply:
    district_id = ctx.data.get("district_id")
    district = await by_id(ctx.session, district_id) if district_id else None
    communes = await repo.commune_units(ctx.session, district)
    items = [Choice(f"{P}c:{c.id}", c.name) for c in communes]
    shown, page = _paged(items, int(ctx.data.get("page", 0)), f"{P}cp:")
    extra = []
    if district is not None:
        extra.append(
            Choice(
                f"{P}c:{district.id}",
                _("Not sure: send it to {district}").format(district=district.name),
            )
        )
        extra.append(Choice(f"{P}back", _("Back to districts")))
    name = esc(district.name) if district else ""
    text = (
        _("Choose the commune or ward in {district}:").format(district=name)
        if district
        else _("Choose the commune or ward:")
    )
    return [Message(text, choices=[*shown, *extra], columns=2)]


async def on_commune(ctx: Context, inp: Incoming) -> Reply:
    if inp.choice == f"{P}back":
        ctx.goto(FLOW_NAME, Step.DISTRICT, page=0)
        return await ask_district(ctx)
    if inp.choice and inp.choice.startswith(f"{P}cp:"):
        raw = inp.choice[len(f"{P}cp:") :]
        ctx.update(page=int(raw) if raw.isdigit() else 0)
        return await ask_commune(ctx)
    if inp.choice and inp.choice.startswith(f"{P}c:"):
        unit = await _unit_choice(ctx, inp.choice)
        if unit is None:
            raise Invalid(_("That place is not available; please choose again."))
        return await _chose(ctx, unit, "chosen")
    reply = await _place_input(ctx, inp)
    if reply is None:
        raise Invalid(_("Please choose one of the buttons, or type the commune's name."))
    return reply


async def _unit(ctx: Context) -> Unit:
    unit = await by_id(ctx.session, int(ctx.data["unit_id"]))
    assert unit is not None
    return unit


async def ask_detail(ctx: Context) -> Reply:
    unit = await _unit(ctx)
    text = _(
        "Place: {unit}. Add details (village, street, house number, landmark), or press Skip."
    ).format(unit=bold(esc(unit.name)))
    choices = [
        Choice(f"{P}skip", _("Skip")),
        Choice(f"{P}place", _("Change the place")),
        cancel_button(),
    ]
    return [Message(text, choices=choices, columns=2)]


async def on_detail(ctx: Context, inp: Incoming) -> Reply:
    if inp.choice == f"{P}place":
        ctx.update(preset=False, lat=None, lon=None)
        ctx.goto(FLOW_NAME, Step.PLACE)
        return await ask_place(ctx)
    if inp.location is not None:
        return await _located(ctx, inp)
    if inp.choice == f"{P}skip":
        ctx.update(place_text=None)
    else:
        text = (inp.text or "").strip()
        if not text or inp.choice:
            raise Invalid(_("Type the details of the place, or press Skip."))
        if len(text) > PLACE_MAX:
            raise Invalid(
                _("Please keep the place under {limit} characters.").format(limit=PLACE_MAX)
            )
        ctx.update(place_text=text)
    ctx.goto(FLOW_NAME, Step.CONTACT)
    return await ask_contact(ctx)


# --- anonymity ----------------------------------------------------------------------------


async def ask_contact(ctx: Context) -> Reply:
    unit = await _unit(ctx)
    text = _(
        "Do you want to stay anonymous? If you share your phone number, only the officers of "
        "{unit} will see it and may call you. Nobody else will."
    ).format(unit=esc(unit.name))
    return [
        Message(text, choices=[*_contact_choices(), cancel_button()], columns=2),
        Message(
            _("To share your phone number, tap the button below (or type the number)."),
            request="contact",
            request_label=_("Share my phone number"),
        ),
    ]


def _contact_choices() -> list[Choice]:
    return [
        Choice(f"{P}anon", _("Stay anonymous")),
        Choice(f"{P}phone", _("Leave my phone number")),
    ]


def _reporter_name(ctx: Context) -> str:
    if ctx.member is not None and ctx.member.full_name:
        return ctx.member.full_name
    return ctx.identity.display_name


async def on_contact(ctx: Context, inp: Incoming) -> Reply:
    picked = choice_or_text(inp, _contact_choices())
    if picked == f"{P}phone":
        return [
            Message(
                _("Tap the button below to share your phone number, or type it."),
                request="contact",
                request_label=_("Share my phone number"),
            )
        ]
    if picked is not None:
        ctx.update(phone=None)
    elif inp.contact_phone:
        ctx.update(phone=inp.contact_phone.strip()[:32])
    elif inp.text and PHONE.match(inp.text.strip()):
        ctx.update(phone=inp.text.strip()[:32])
    else:
        raise Invalid(_('Press "Stay anonymous", or share or type your phone number.'))
    ctx.goto(FLOW_NAME, Step.CONFIRM)
    return [Message(_("Thank you."), remove_keyboard=True), *await ask_confirm(ctx)]


# --- summary and sending ----------------------------------------------------------------


async def ask_confirm(ctx: Context) -> Reply:
    cat = await repo.category(ctx.session, str(ctx.data["category"]))
    unit = await _unit(ctx)
    description = str(ctx.data["description"])
    if len(description) > SUMMARY_TEXT:
        description = description[: SUMMARY_TEXT - 1] + "…"
    lines = [
        bold(_("Please check your tip:")),
        _("Category: {category}").format(category=esc(triage.category_name(cat))),
        _("Description: {text}").format(text=esc(description)),
        _("Files: {count}").format(count=len(_media(ctx))),
        _("Place: {unit}").format(unit=esc(unit.name)),
    ]
    if ctx.data.get("place_text"):
        lines.append(_("Details: {place}").format(place=esc(ctx.data["place_text"])))
    choices = [Choice(f"{P}send", _("Send")), Choice(f"{P}cancel", _("Cancel"))]
    if ctx.data.get("lat") is not None:
        if ctx.data.get("exact"):
            lines.append(_("Your exact location is attached."))
            choices.append(Choice(ROUGH, _("Attach it only to about 100 m")))
        else:
            lines.append(_("Your location is attached, to about 100 m."))
            choices.append(Choice(EXACT, _("Attach the exact location")))
    if ctx.data.get("phone"):
        lines.append(
            _("You: {name}, {phone} (seen only by the officers of {unit})").format(
                name=esc(_reporter_name(ctx)), phone=esc(ctx.data["phone"]), unit=esc(unit.name)
            )
        )
    else:
        lines.append(_("You stay anonymous."))
    return [Message("\n".join(lines), choices=choices, columns=2)]


async def on_confirm(ctx: Context, inp: Incoming) -> Reply:
    if inp.choice in (EXACT, ROUGH) and ctx.data.get("lat") is not None:
        ctx.update(exact=inp.choice == EXACT)
        return await ask_confirm(ctx)
    picked = choice_or_text(inp, [Choice(f"{P}send", _("Send")), Choice(f"{P}cancel", _("Cancel"))])
    if picked == f"{P}cancel":
        ctx.finish()
        return [Message(_("Cancelled. Nothing was sent."), choices=menu_choices(ctx))]
    if picked != f"{P}send":
        raise Invalid(_("Press Send to send the tip, or Cancel."))
    until = await _over_limit(ctx)
    if until is not None:
        # The draft stays: the person can press Send again later.
        return [
            Message(_limit_text(ctx, until) + "\n" + _("Your tip is kept; press Send then.")),
            *await ask_confirm(ctx),
        ]
    return await _submit(ctx)


def _sent_coordinate(data: dict[str, Any], key: str) -> float | None:
    """The coordinate as the tip keeps it: to about 100 m unless the reporter chose exact."""
    value = data.get(key)
    if value is None or data.get("exact"):
        return value
    return round(float(value), LOCATION_DECIMALS)


async def _submit(ctx: Context) -> Reply:
    data = ctx.data
    unit = await _unit(ctx)
    cat = await repo.category(ctx.session, str(data["category"]))
    if cat is None:
        ctx.goto(FLOW_NAME, Step.CATEGORY)
        return [Message(_("That category is no longer available.")), *await ask_category(ctx)]
    phone = data.get("phone")
    link = ReporterLink(
        identity_id=ctx.identity.id,
        channel=ctx.identity.channel,
        chat_id=ctx.identity.chat_id,
        name=_reporter_name(ctx) if phone else None,
        phone=phone,
    )
    draft = repo.TipDraft(
        category=cat.code,
        description=str(data["description"]),
        unit_id=unit.id,
        channel=ctx.identity.channel,
        routed_by=str(data.get("routed_by") or "chosen"),
        place_text=data.get("place_text"),
        lat=_sent_coordinate(data, "lat"),
        lon=_sent_coordinate(data, "lon"),
        media=[repo.MediaItem.from_json(m) for m in _media(ctx)],
    )
    tip, code = await repo.create_tip(ctx.session, ctx.settings, draft, link, now=ctx.now)
    await rate_limits.hit(
        ctx.session, ctx.settings, rate_limits.TIP_SUBMIT, ctx.identity.id, ctx.now
    )
    notified = await triage.notify_new_tip(ctx.session, tip, unit, cat)
    if notified == 0:
        await triage.escalate(ctx.session, tip, ctx.now, reason="no_officer")
    log.info("tip %s received for unit %s (%s officers notified)", tip.id, unit.code, notified)
    ctx.finish()
    ctx.update(done=f"{P}send")  # a second tap on Send says "already sent"
    shown = repo.format_code(code)
    text = "\n".join(
        [
            bold(_("Your tip has been received and sent to {unit}.").format(unit=esc(unit.name))),
            _("Your tracking code: <code>{code}</code>").format(code=shown),
            _(
                "Write it down: it is the only way to check your tip (/status {code}) or add "
                "to it, and it cannot be shown again."
            ).format(code=shown),
            _("Thank you. {emergency}").format(emergency=emergency_line()),
        ]
    )
    return [Message(text, choices=menu_choices(ctx))]


FLOW = registry.add_flow(
    Flow(
        FLOW_NAME,
        {
            Step.CATEGORY: StepDef(prompt=ask_category, handle=on_category),
            Step.DESCRIPTION: StepDef(
                prompt=ask_description, handle=on_description, accepts_media=True
            ),
            Step.MEDIA: StepDef(prompt=ask_media, handle=on_media, accepts_media=True),
            Step.PLACE: StepDef(
                prompt=ask_place, handle=on_place, accepts_media=True, reply_keyboard=True
            ),
            Step.DISTRICT: StepDef(
                prompt=ask_district, handle=on_district, accepts_media=True, reply_keyboard=True
            ),
            Step.COMMUNE: StepDef(
                prompt=ask_commune, handle=on_commune, accepts_media=True, reply_keyboard=True
            ),
            Step.DETAIL: StepDef(
                prompt=ask_detail, handle=on_detail, accepts_media=True, reply_keyboard=True
            ),
            Step.CONTACT: StepDef(
                prompt=ask_contact, handle=on_contact, accepts_media=True, reply_keyboard=True
            ),
            Step.CONFIRM: StepDef(prompt=ask_confirm, handle=on_confirm),
        },
    )
)

registry.add_menu(MenuEntry("tip", lambda: _("Send a tip"), _menu_start, lambda c: True, 10))
registry.add_command("tip", _command)
registry.add_deep_link("tip_", deep_link)
COMMAND_HELP["tip"] = lambda: _("send a tip to the police (you may stay anonymous)")
