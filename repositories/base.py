"""The generic repository every aggregate's repository builds on."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Executable,
    Select,
    Table,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from repositories.models import Conversation, Model, TranscriptChunk

ModelT = TypeVar("ModelT", bound=Model)


class NotFoundError(LookupError):
    """No row has the id asked for."""


class Scope:
    """A unit of work's open transaction as its repositories reach it: a Core connection
    for statements, and an ORM session on that connection for model objects.

    The session is made on first use: most blocks on the pipeline's hot path run one Core
    statement, and building a session (and committing through it) costs more CPU than the
    statement does on a warm connection.
    """

    def __init__(
        self, connection: Connection, session: Session | Callable[[Connection], Session]
    ) -> None:
        """`session`: the session to use, or what makes one on `connection` when first used."""
        self.connection = connection
        self.dialect = connection.dialect.name
        self._session: Session | None = None
        self._make_session: Callable[[Connection], Session] | None = None
        if isinstance(session, Session):
            self._session = session
        else:
            self._make_session = session

    @property
    def session(self) -> Session:
        if self._session is None:
            assert self._make_session is not None
            self._session = self._make_session(self.connection)
        return self._session

    @property
    def opened_session(self) -> Session | None:
        """The session, if a repository has used one."""
        return self._session


class Repository(Generic[ModelT]):
    model: type[ModelT]

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    @property
    def session(self) -> Session:
        return self.scope.session

    @property
    def table(self) -> Table:
        return cast(Table, self.model.__table__)

    def get_base_statement(self) -> Select[ModelT]:
        return select(self.model)

    def create(self, **values: Any) -> ModelT:
        row = self.model(**values)
        self.session.add(row)
        # Flush so defaults and constraint errors surface here, at the call that caused them.
        self.session.flush()
        return row

    def get_by_id(
        self, id: uuid.UUID, *, options: Sequence[ORMOption] = (), for_update: bool = False
    ) -> ModelT | None:
        statement = self.get_base_statement().where(self.model.id == id).options(*options)
        if for_update:
            statement = statement.with_for_update()
        return self.session.scalars(statement).one_or_none()

    def get(self, id: uuid.UUID, *, options: Sequence[ORMOption] = ()) -> ModelT:
        row = self.get_by_id(id, options=options)
        if row is None:
            raise NotFoundError(f"no {self.model.__tablename__} row has id {id}")
        return row

    def list(
        self, *, limit: int = 100, offset: int = 0, options: Sequence[ORMOption] = ()
    ) -> Sequence[ModelT]:
        statement = (
            self.get_base_statement()
            .options(*options)
            .order_by(self.model.created_at.desc(), self.model.id)
            .limit(limit)
            .offset(offset)
        )
        return self.session.scalars(statement).all()

    def delete(self, row: ModelT) -> None:
        # The ORM cascade covers loaded children; ON DELETE CASCADE covers the rest without
        # loading them (passive_deletes on every relationship).
        self.session.delete(row)
        self.session.flush()

    def count(self, *criteria: ColumnElement[bool]) -> int:
        statement = select(func.count()).select_from(self.model).where(*criteria)
        return self.session.scalar(statement) or 0

    def exists(self, id: uuid.UUID) -> bool:
        # A Core statement: a stage asks it when its claim found nothing, with no session.
        return bool(self.execute(select(exists().where(self.model.id == id))).scalar())

    def advisory_xact_lock(self, key: int, *, wait: bool = True) -> bool:
        """Takes PostgreSQL's advisory lock `key` until this transaction ends; False when
        another transaction holds it and `wait` is not asked for.

        SQLite has no advisory locks and runs one writer at a time anyway: there it is
        always True.
        """
        if self.scope.dialect != "postgresql":
            return True
        if wait:
            self.execute(select(func.pg_advisory_xact_lock(key)))
            return True
        return bool(self.execute(select(func.pg_try_advisory_xact_lock(key))).scalar())

    def execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] = (),
    ) -> CursorResult[Any]:
        """A Core statement on the unit of work's connection, in its transaction.

        Not through Session.execute: its ORM execution path (plugins, events, bind lookup)
        costs more CPU than a hot-path statement does on a warm connection.
        """
        return self.scope.connection.execute(statement, parameters or None)

    def update_where(self, *criteria: ColumnElement[bool], **values: Any) -> int:
        """One UPDATE of every row matching `criteria`; returns how many rows it changed.

        On the table, not the ORM entity: loaded rows are not synchronized anyway, and the
        ORM's bulk-update machinery costs more than the statement on the pipeline's hot path.
        """
        statement = update(self.table).where(*criteria).values(**values)
        return self.execute(statement).rowcount


def lease_free(
    leased: type[Conversation] | type[TranscriptChunk], now: datetime | ColumnElement[datetime]
) -> ColumnElement[bool]:
    """A row nobody holds: its lease never taken, given back, or lapsed by `now`."""
    return or_(leased.lease_token.is_(None), leased.lease_expires_at < now)
