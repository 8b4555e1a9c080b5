"""Polled updates not yet handled, on disk while the database is down.

Polling has confirmed an update to Telegram by the next ``getUpdates``, so from
then on our process holds the only copy. ``HeldSpool`` knows every update taken
from Telegram and not yet handled (in memory: no disk I/O while the database
answers). When the engine begins to hold an update (its first try found the
database unreachable) every such update is written to
``<data_dir>/held/telegram/<update_id>.json`` (atomically), and so is each one
that arrives while the engine holds any; a file goes once its update is handled.
A process killed with -9 during an outage thus loses none of them: the next
start replays the files in id order before polling (``replay``), and one handled
after all before the kill is skipped by the engine (``processed_update``). A
graceful stop writes what is still unhandled. Each file and the folder are
synced (``fsync``) before it counts as kept, so a power cut loses none either
(an outage is when this runs: no update pays for it otherwise). What remains: updates in hand
when the process is killed before any try has found the database unreachable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telegram import Update

log = logging.getLogger(__name__)


def held_dir(data_dir: Path) -> Path:
    return data_dir.expanduser().resolve() / "held" / "telegram"


class HeldSpool:
    """The updates in hand (fetched, not handled) and which of them are on disk."""

    def __init__(self, data_dir: Path, outage: Callable[[], bool]) -> None:
        self.folder = held_dir(data_dir)
        self.outage = outage  # whether the engine holds an update now
        self._in_hand: dict[int, Update] = {}
        self._on_disk: set[int] = set()

    def arrived(self, update: Update) -> None:
        """An update from Telegram (or a replayed one): on disk at once during an outage."""
        self._in_hand[update.update_id] = update
        if self.outage():
            self._write(update)

    def outage_began(self) -> None:
        """The engine began to hold an update: every update in hand goes to disk."""
        for update in list(self._in_hand.values()):
            self._write(update)

    def settled(self, update: Update, *, keep: bool) -> None:
        """Done with ``update``: its file goes, unless it was not handled (``keep``)."""
        self._in_hand.pop(update.update_id, None)
        if keep:
            self._write(update)
        elif update.update_id in self._on_disk:
            self._on_disk.discard(update.update_id)
            self._path(update.update_id).unlink(missing_ok=True)

    @property
    def kept(self) -> int:
        """How many updates are on disk now."""
        return len(self._on_disk)

    def keep_all(self) -> None:
        """At a stop: every update still in hand to disk."""
        for update in list(self._in_hand.values()):
            self._write(update)

    def replay(self, bot: Any) -> list[Update]:
        """The updates a previous run left on disk, in id order (their files stay until
        each is handled; an unreadable one is logged and left in place)."""
        if not self.folder.is_dir():
            return []
        found: list[Update] = []
        for path in sorted(self.folder.glob("*.json"), key=lambda p: int(p.stem)):
            try:
                update = Update.de_json(json.loads(path.read_text(encoding="utf-8")), bot)
            except (ValueError, TypeError) as exc:
                log.error("held update %s unreadable, left in place: %s", path.name, exc)
                continue
            if update is not None:
                self._on_disk.add(update.update_id)
                found.append(update)
        return found

    def _path(self, update_id: int) -> Path:
        return self.folder / f"{update_id}.json"

    def _write(self, update: Update) -> None:
        if update.update_id in self._on_disk:
            return
        target = self._path(update.update_id)
        partial = target.with_suffix(".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with partial.open("w", encoding="utf-8") as out:
                out.write(json.dumps(update.to_dict()))
                out.flush()
                os.fsync(out.fileno())  # on the disk itself, not only in the page cache
            os.replace(partial, target)
            _sync_folder(self.folder)  # and the new name with it
        except OSError as exc:  # still held in memory: lost only if the process dies too
            log.error("held update %s not written to disk: %s", update.update_id, exc)
            return
        self._on_disk.add(update.update_id)


def _sync_folder(folder: Path) -> None:
    """``fsync`` of a folder, so a renamed file's new name survives a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolingQueue(asyncio.Queue[object]):
    """PTB's update queue that shows the spool each update as it is put in."""

    def __init__(self, spool: HeldSpool) -> None:
        super().__init__()
        self.spool = spool

    def put_nowait(self, item: object) -> None:
        if isinstance(item, Update):
            self.spool.arrived(item)
        super().put_nowait(item)
