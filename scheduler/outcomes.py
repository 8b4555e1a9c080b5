"""Outcomes of the outbox sender's rows, written to PostgreSQL in batches; the in-flight slots.

Each outcome of a claimed row (sent, failed, postponed, how many of its messages
went out, or "delete it": a finished private row) is written with the others that
came in meanwhile, by one statement, each guarded by the row's claimed
``attempts`` and ``pending`` status (a sender whose lease ran out cannot overwrite
the row's next claim). One batch is written at a time, and the next one as soon as
it is done (a group commit): a batch holds what came in during the last write, so
batches grow with the rate and no outcome waits for a timer. One transaction a row
was most of the sender's work (about 3 ms of CPU a message).

``write`` returns once its outcome is in the database (True) or found no longer
this sender's (False); if the batch could not be written it raises the error, for
every row of the batch. The sender holds a message's in-flight slot until then,
so at most ``outbox_in_flight`` messages are ever sent and not recorded.

A batch is one statement in autocommit (one round trip), whose commit does not
wait for the disk (``synchronous_commit`` off for that transaction): the time
between a message going out and its row saying so is what a crash of the sender
turns into a duplicate, and waiting for an fsync there widened it most. Only a
crash of PostgreSQL itself within the last moment can lose such a write, and then
the message goes again (never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from db.session import Database

# One statement for the whole batch: the outcomes as arrays, unnested into rows.
# NULL leaves a column as it is; ``forget`` deletes the row instead. ``set_config``
# (local: this statement's own transaction) holds for its commit.
WRITE = text(
    """
    WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)),
    v AS (
        SELECT v.* FROM quick, unnest(
            CAST(:id AS bigint[]), CAST(:attempts AS integer[]), CAST(:forget AS boolean[]),
            CAST(:keep_lease AS boolean[]), CAST(:status AS text[]),
            CAST(:sent_at AS timestamptz[]), CAST(:payload AS text[]),
            CAST(:not_before AS timestamptz[]), CAST(:new_attempts AS integer[]),
            CAST(:last_error AS text[])
        ) AS v (id, attempts, forget, keep_lease, status, sent_at, payload, not_before,
                new_attempts, last_error)
    ),
    gone AS (
        DELETE FROM outbox o USING v
        WHERE v.forget AND o.id = v.id AND o.attempts = v.attempts AND o.status = 'pending'
        RETURNING o.id
    ),
    done AS (
        UPDATE outbox o SET
            status = coalesce(v.status, o.status),
            sent_at = coalesce(v.sent_at, o.sent_at),
            payload = coalesce(CAST(v.payload AS jsonb), o.payload),
            not_before = coalesce(v.not_before, o.not_before),
            attempts = coalesce(v.new_attempts, o.attempts),
            last_error = coalesce(v.last_error, o.last_error),
            leased_by = CASE WHEN v.keep_lease THEN o.leased_by END
        FROM v
        WHERE NOT v.forget AND o.id = v.id AND o.attempts = v.attempts
            AND o.status = 'pending'
        RETURNING o.id
    )
    SELECT id FROM gone UNION ALL SELECT id FROM done
    """
)


@dataclass(frozen=True)
class Outcome:
    """What to write for one claimed row (``id``, claimed with ``attempts``)."""

    id: int
    attempts: int
    forget: bool = False  # delete the row
    keep_lease: bool = False  # progress only: the row stays this sender's claim
    status: str | None = None
    sent_at: dt.datetime | None = None
    payload: dict[str, Any] | None = None
    not_before: dt.datetime | None = None
    new_attempts: int | None = None
    last_error: str | None = None


class OutcomeWriter:
    """Collects outcomes and writes them in batches (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[Outcome, asyncio.Future[bool]]] = []
        self._one_at_a_time = asyncio.Lock()
        self._writers: set[asyncio.Task[None]] = set()
        self.batches = 0  # written so far (for tests and benchmarks)

    async def write(self, outcome: Outcome) -> bool:
        """Write ``outcome`` with the next batch; True if the row was still this sender's."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, future))
        if len(self._waiting) == 1:  # the first of a batch starts its writer
            task = asyncio.create_task(self._write_next())
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)
        # The batch is written even if this caller is cancelled: its message went out.
        return await asyncio.shield(future)

    async def _write_next(self) -> None:
        async with self._one_at_a_time:  # outcomes coming in meanwhile join this batch
            batch, self._waiting = self._waiting, []
            try:
                mine = await self._write(batch)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
            except BaseException:  # cancelled: the callers are told so
                for _, future in batch:
                    future.cancel()
                raise
            for outcome, future in batch:
                if not future.done():
                    future.set_result(outcome.id in mine)

    async def _write(self, batch: list[tuple[Outcome, asyncio.Future[bool]]]) -> set[int]:
        outcomes = [o for o, _ in batch]
        params: dict[str, list[Any]] = {
            "id": [o.id for o in outcomes],
            "attempts": [o.attempts for o in outcomes],
            "forget": [o.forget for o in outcomes],
            "keep_lease": [o.keep_lease for o in outcomes],
            "status": [o.status for o in outcomes],
            "sent_at": [o.sent_at for o in outcomes],
            "payload": [None if o.payload is None else json.dumps(o.payload) for o in outcomes],
            "not_before": [o.not_before for o in outcomes],
            "new_attempts": [o.new_attempts for o in outcomes],
            "last_error": [o.last_error for o in outcomes],
        }
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            mine = set((await conn.execute(WRITE, params)).scalars())
        self.batches += 1
        return mine


class Slots:
    """The in-flight slots: ``size`` messages between their request and their outcome written.

    A free slot goes to a personal message (``first``) before any announcement
    waiting for one: a tip alert queued behind hundreds of an announcement's rows
    goes next, not after them. Each kind waits in order.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._first: deque[asyncio.Future[None]] = deque()
        self._rest: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def hold(self, *, first: bool) -> AsyncIterator[None]:
        if self._free > 0 and not self._first and not self._rest:
            self._free -= 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            (self._first if first else self._rest).append(future)
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed over just as it was cancelled: pass it on
                else:
                    with contextlib.suppress(ValueError):
                        (self._first if first else self._rest).remove(future)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for waiting in (self._first, self._rest):
            while waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(None)
                    return
        self._free += 1
