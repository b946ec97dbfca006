"""The transcription chain's circuits kept in the database, so that every worker (and every
machine) skips a provider that failed recently, on the embedded SQLite as on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from integrations.transcription.base import OpenCircuit
from repositories.database import UnitOfWork


class DatabaseCircuits:
    """`Circuits` in the provider_circuits table; each call its own short transaction (the
    chain asks while a recording is transcribed, with no transaction open)."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    def state(self, provider: str) -> OpenCircuit | None:
        with self._unit_of_work() as uow:
            row = uow.circuits.get(provider)
            return None if row is None else OpenCircuit(until=row.open_until, reason=row.reason)

    def open(self, provider: str, *, until: datetime, reason: str) -> None:
        with self._unit_of_work() as uow:
            uow.circuits.open(provider, until=until, reason=reason)

    def close(self, provider: str) -> None:
        with self._unit_of_work() as uow:
            uow.circuits.close(provider)
