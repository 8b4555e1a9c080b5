"""What the background loops of this process report about themselves, for ``/healthz``.

A loop (the outbox sender, a scheduled job, a poller) calls ``health.down(name,
reason)`` when an iteration fails and ``health.up(name)`` when one succeeds;
``/healthz`` answers 503 naming every loop that is down and why. ``Backoff``
spaces the retries of a failing loop: doubling from ``first`` up to ``cap``.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class Health:
    """The loops that are down now, with the reason (the latest error)."""

    def __init__(self) -> None:
        self._down: dict[str, str] = {}

    def down(self, name: str, reason: str) -> None:
        self._down[name] = reason

    def up(self, name: str) -> None:
        if self._down.pop(name, None) is not None:
            log.info("%s recovered", name)

    def problems(self) -> dict[str, str]:
        return dict(sorted(self._down.items()))


class Backoff:
    """Seconds to wait after each failure in a row: ``first``, doubling, at most ``cap``."""

    def __init__(self, first: float = 0.5, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return float(min(self.cap, self.first * 2 ** (self.failures - 1)))

    def reset(self) -> None:
        self.failures = 0


def describe(exc: BaseException) -> str:
    """``Type: message`` of an error, one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when stopped."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
