"""Updates a stopping process could not store (the database was down), kept on disk.

Polling has confirmed them to Telegram already (the next ``getUpdates`` does), so
they would be lost: ``save`` writes each as JSON under
``<data_dir>/held/telegram/<update_id>.json``; the next start reads them back with
``take`` (removing the files) and handles them before new ones. A redelivery
that was handled after all is skipped by the engine (``processed_update``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from telegram import Update

log = logging.getLogger(__name__)


def held_dir(data_dir: Path) -> Path:
    return data_dir.expanduser().resolve() / "held" / "telegram"


def save(data_dir: Path, updates: Iterable[Update]) -> int:
    """Write ``updates`` (atomically, one file each); how many were written."""
    folder = held_dir(data_dir)
    written = 0
    for update in updates:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{update.update_id}.json"
        partial = target.with_suffix(".tmp")
        partial.write_text(json.dumps(update.to_dict()), encoding="utf-8")
        os.replace(partial, target)
        written += 1
    return written


def take(data_dir: Path, bot: Any) -> list[Update]:
    """The saved updates in id order; their files are removed."""
    folder = held_dir(data_dir)
    if not folder.is_dir():
        return []
    found: list[Update] = []
    for path in sorted(folder.glob("*.json"), key=lambda p: int(p.stem)):
        try:
            update = Update.de_json(json.loads(path.read_text(encoding="utf-8")), bot)
        except (ValueError, TypeError) as exc:
            log.error("held update %s unreadable, left in place: %s", path.name, exc)
            continue
        if update is not None:
            found.append(update)
        path.unlink()
    return found
