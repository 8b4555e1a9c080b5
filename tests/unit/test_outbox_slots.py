"""The sender's in-flight slots (``scheduler.outcomes.Slots``): never more than their
number held, personal messages served before an announcement's rows, nothing leaked
by a waiter that gives up."""

from __future__ import annotations

import asyncio

from scheduler.outcomes import Slots


async def test_a_personal_message_gets_the_next_slot_before_announcements() -> None:
    slots = Slots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, *, first: bool) -> None:
        async with slots.hold(first=first):
            order.append(name)
            if name == "busy":
                await release.wait()

    busy = asyncio.create_task(hold("busy", first=False))
    await asyncio.sleep(0)
    waiting = [
        asyncio.create_task(hold("announcement 1", first=False)),
        asyncio.create_task(hold("announcement 2", first=False)),
        asyncio.create_task(hold("tip alert", first=True)),
    ]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(busy, *waiting)
    assert order == ["busy", "tip alert", "announcement 1", "announcement 2"]


async def test_never_more_held_than_there_are_slots() -> None:
    slots = Slots(3)
    held = most = 0

    async def send(n: int) -> None:
        nonlocal held, most
        async with slots.hold(first=n % 5 == 0):
            held += 1
            most = max(most, held)
            await asyncio.sleep(0.001 * (n % 3))
            held -= 1

    await asyncio.gather(*(send(n) for n in range(40)))
    assert (most, held) == (3, 0)


async def test_a_waiter_that_gives_up_leaks_no_slot() -> None:
    slots = Slots(1)
    release = asyncio.Event()

    async def hold() -> None:
        async with slots.hold(first=False):
            await release.wait()

    busy = asyncio.create_task(hold())
    await asyncio.sleep(0)
    quitter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    quitter.cancel()  # while it waits
    release.set()
    await busy
    assert quitter.cancelled()
    async with asyncio.timeout(1):  # the one slot is free again
        async with slots.hold(first=False):
            pass
