"""Leases: how a worker holds a stage, proves it is alive, and how lost work is noticed.

A claim on a stage lasts `seconds` unless renewed; a worker renews it from a background
thread while the slow step (a transcription, a model call) runs. A worker that dies stops
renewing, its lease lapses, and the stage is taken over, by a redelivered message or by the
recovery sweep. Work waiting in a queue carries a lease too (`requeue_after`): if its
message is lost (a broker restarted with nothing on disk), the sweep sends it again.
"""

from __future__ import annotations

import logging
import threading
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
    requeue_after: float = 1800.0
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
    """Renews a held lease in a background thread, writing the stage's progress with it.

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
        self._conversation_id = conversation_id
        self._token = token
        self._uow = uow.fork()  # a session of its own: sessions are not shared across threads
        self._leases = leases
        self._on_progress = on_progress
        self._percent = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{conversation_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def report(self, fraction: float) -> None:
        percent = max(0, min(100, int(fraction * 100)))
        if percent != self._percent:
            self._percent = percent
            self._on_progress(percent)

    def _run(self) -> None:
        while not self._stopped.wait(self._leases.heartbeat_interval):
            try:
                with self._uow:
                    held = self._uow.conversations.renew_lease(
                        self._conversation_id,
                        token=self._token,
                        lease_until=self._leases.until(utc_now()),
                        progress=self._percent,
                    )
            except SQLAlchemyError:
                # The database is away for now: keep trying. If the lease lapses meanwhile
                # another worker may take the stage over; the final compare-and-set on the
                # token then keeps exactly one result.
                log.warning(
                    "lease renewal failed conversation_id=%s",
                    self._conversation_id,
                    exc_info=True,
                )
                continue
            if not held:
                log.warning("lease lost conversation_id=%s", self._conversation_id)
                return
