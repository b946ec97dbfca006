"""Leases: how a worker holds a stage, proves it is alive, and how lost work is noticed.

A claim on a stage lasts `seconds` unless renewed; a worker renews it from a background
thread while the slow step (a transcription, a model call) runs. A worker that dies stops
renewing, its lease lapses, and the stage is taken over, by a redelivered message or by the
recovery sweep. Work waiting in a queue carries a lease too (`requeue_after`): once it
lapses the sweep checks the broker for the message's record (pipeline/queued.py), sends it
again if the broker lost it (restarted with nothing on disk), and otherwise leaves it to
wait, however long the backlog.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError

from repositories.database import UnitOfWork
from repositories.models import utc_now

log = logging.getLogger(__name__)

# Progress is written with the heartbeat, so `minutes status` is at most this far behind.
_LONGEST_HEARTBEAT_S = 10.0


@dataclass(frozen=True, slots=True)
class Leases:
    seconds: float = 300.0
    requeue_after: float = 30.0
    # A stage taken this many times without finishing keeps killing its worker (out of
    # memory, a hard time limit): fail it rather than hand it on forever.
    max_deliveries: int = 5

    @property
    def heartbeat_interval(self) -> float:
        # Three heartbeats per lease, so one late or failed renewal does not lose it.
        return min(self.seconds / 3, _LONGEST_HEARTBEAT_S)

    def until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.seconds)

    def requeue_at(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.requeue_after)


DEFAULT_LEASES = Leases()


class Heartbeat:
    """Keeps a held lease renewed while a slow step runs, writing the stage's progress with it.

    `report(fraction)` is handed to the slow step as its progress callback; whole-percent
    changes also go to `on_progress` (the task's custom state, which Flower shows).
    """

    def __init__(
        self,
        conversation_id: uuid.UUID,
        *,
        token: uuid.UUID,
        uow: UnitOfWork,
        leases: Leases,
        on_progress: Callable[[int], None],
    ) -> None:
        self.conversation_id = conversation_id
        self.interval = leases.heartbeat_interval
        self._token = token
        # A session of its own (sessions are not shared across threads), and no transaction
        # around a renewal: it is one UPDATE.
        self._uow = uow.autocommit()
        self._leases = leases
        self._on_progress = on_progress
        self._percent = 0
        self._stopped = threading.Event()

    def __enter__(self) -> Heartbeat:
        _renewer.add(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        _renewer.remove(self)

    def report(self, fraction: float) -> None:
        percent = max(0, min(100, int(fraction * 100)))
        if percent != self._percent:
            self._percent = percent
            self._on_progress(percent)

    def renew(self) -> bool:
        """One renewal; False once the lease is lost (or the step is over)."""
        if self._stopped.is_set():
            return False
        try:
            with self._uow:
                held = self._renewed(self._uow, self._leases.until(utc_now()))
        except SQLAlchemyError:
            # The database is away for now: keep trying. If the lease lapses meanwhile
            # another worker may take the stage over; the final compare-and-set on the
            # token then keeps exactly one result.
            log.warning(
                "lease renewal failed conversation_id=%s", self.conversation_id, exc_info=True
            )
            return True
        if not held and not self._stopped.is_set():
            log.warning("lease lost conversation_id=%s", self.conversation_id)
        return held

    def _renewed(self, uow: UnitOfWork, lease_until: datetime) -> bool:
        return uow.conversations.renew_lease(
            self.conversation_id, token=self._token, lease_until=lease_until, progress=self._percent
        )


class ChunkHeartbeat(Heartbeat):
    """Keeps a held chunk's lease renewed. Its conversation's progress is its chunks done
    over its chunks, written as each one lands, so a chunk's own progress is not stored."""

    def __init__(
        self,
        chunk_id: uuid.UUID,
        conversation_id: uuid.UUID,
        *,
        token: uuid.UUID,
        uow: UnitOfWork,
        leases: Leases,
    ) -> None:
        super().__init__(
            conversation_id, token=token, uow=uow, leases=leases, on_progress=lambda percent: None
        )
        self.chunk_id = chunk_id

    def _renewed(self, uow: UnitOfWork, lease_until: datetime) -> bool:
        return uow.chunks.renew_lease(self.chunk_id, token=self._token, lease_until=lease_until)


class _Renewer:
    """One thread per process renews the leases of every stage running in it.

    Not a thread per stage: starting one costs more than a fast stage's whole database
    work, and most stages end long before their first renewal is due.
    """

    def __init__(self) -> None:
        self._due: dict[Heartbeat, float] = {}  # each heartbeat's next renewal (monotonic)
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the thread wakes by itself next (monotonic)

    def add(self, heartbeat: Heartbeat) -> None:
        with self._changed:
            due = self._due[heartbeat] = time.monotonic() + heartbeat.interval
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
                self._thread.start()
            # Woken only when it would sleep past this renewal: waking it costs a thread
            # switch on every stage, and a fast stage is over long before a renewal is due.
            if due < self._wakes_at:
                self._changed.notify()

    def remove(self, heartbeat: Heartbeat) -> None:
        with self._changed:
            self._due.pop(heartbeat, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [heartbeat for heartbeat, at in self._due.items() if at <= now]
                if not due:
                    self._wakes_at = min(self._due.values(), default=now + 60.0)
                    self._changed.wait(self._wakes_at - now)
                    continue
                for heartbeat in due:
                    self._due[heartbeat] = now + heartbeat.interval
            # Outside the lock: a slow renewal must not hold up stages starting or ending.
            for heartbeat in due:
                if not heartbeat.renew():
                    self.remove(heartbeat)


_renewer = _Renewer()


def _new_renewer_after_fork() -> None:
    # Threads do not survive fork: a worker's pool process starts its own renewer.
    global _renewer
    _renewer = _Renewer()


os.register_at_fork(after_in_child=_new_renewer_after_fork)
