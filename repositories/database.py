"""The one engine and session factory, and the unit of work that owns a transaction."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from repositories.action_items import ActionItemRepository
from repositories.base import Scope
from repositories.chunks import TranscriptChunkRepository
from repositories.circuits import ProviderCircuitRepository
from repositories.conversations import ConversationRepository
from repositories.outbox import GraphOutboxRepository
from repositories.participants import ParticipantRepository
from repositories.search import SearchRepository
from repositories.segments import TranscriptSegmentRepository
from repositories.syntheses import SynthesisRepository

# A pooled connection idle this long is pinged before it is handed out.
IDLE_BEFORE_PING_S = 30.0


def create_database_engine(url: str, **options: Any) -> Engine:
    """Build the process's engine: called once, at start-up, with the configured URL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    engine = create_engine(url, **options)
    # Workers hold pooled connections across long transcriptions, and a database restart
    # leaves them dead. Not pool_pre_ping: that costs a round trip on every checkout, a
    # handful per meeting; only a connection that sat idle is pinged before use.
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


def _note_idle_since(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        # The pool's own protocol: this connection is discarded and another one made.
        raise DisconnectionError(f"stale pooled connection: {type(error).__name__}") from error


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores ON DELETE CASCADE unless every connection asks for it.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: stages hand loaded rows on after the transaction ends.
    return sessionmaker(engine, expire_on_commit=False)


class UnitOfWork:
    """One transaction: commits when the block ends cleanly, rolls back when it raises.

    Reusable: every `with uow:` checks out a new connection, so a stage can keep a slow step
    (a transcription) outside any transaction and hold no connection while it runs. Its
    repositories run their statements on that connection, and make an ORM session on it
    only when they load or add model objects (`Scope`).
    """

    conversations: ConversationRepository
    participants: ParticipantRepository
    segments: TranscriptSegmentRepository
    syntheses: SynthesisRepository
    graph_outbox: GraphOutboxRepository
    search: SearchRepository
    action_items: ActionItemRepository
    chunks: TranscriptChunkRepository
    circuits: ProviderCircuitRepository

    def __init__(self, session_factory: sessionmaker[Session], *, autocommit: bool = False) -> None:
        self._session_factory = session_factory
        self._autocommit = autocommit
        # A factory bound to a connection rather than an engine is inside its owner's
        # transaction (the tests' rolled-back one): its sessions are used as it makes them.
        bind = session_factory.kw.get("bind")
        self._engine = bind if isinstance(bind, Engine) else None
        self._scope: Scope | None = None

    def fork(self) -> UnitOfWork:
        """Another unit of work on the same database, for another thread to use."""
        return UnitOfWork(self._session_factory, autocommit=self._autocommit)

    def autocommit(self) -> UnitOfWork:
        """A unit of work whose every statement commits by itself, with no transaction.

        For blocks whose one write is a single statement (a claim: one UPDATE, atomic on
        its own) and whose reads need no snapshot shared with it: BEGIN and COMMIT are a
        round trip each, as many as the statement itself, on every stage of every meeting.

        On PostgreSQL only. Elsewhere (SQLite, in-process: no round trip to save) a write
        that PostgreSQL takes in one statement may take several, so the block stays one
        transaction.
        """
        return UnitOfWork(self._session_factory, autocommit=True)

    def __enter__(self) -> Self:
        if self._scope is not None:
            raise RuntimeError("this unit of work is already open")
        if self._engine is None:
            session = self._session_factory()
            scope = Scope(session.connection(), session)
        else:
            connection = self._engine.connect()
            if self._autocommit and connection.dialect.name == "postgresql":
                # The pool resets the mode when the connection is returned.
                connection.execution_options(isolation_level="AUTOCOMMIT")
            else:
                connection.begin()
            scope = Scope(connection, self._session_on)
        self._scope = scope
        self.conversations = ConversationRepository(scope)
        self.participants = ParticipantRepository(scope)
        self.segments = TranscriptSegmentRepository(scope)
        self.syntheses = SynthesisRepository(scope)
        self.graph_outbox = GraphOutboxRepository(scope)
        self.search = SearchRepository(scope)
        self.action_items = ActionItemRepository(scope)
        self.chunks = TranscriptChunkRepository(scope)
        self.circuits = ProviderCircuitRepository(scope)
        return self

    def _session_on(self, connection: Connection) -> Session:
        # The session takes over the block's transaction: its commit flushes and commits.
        return self._session_factory(bind=connection, join_transaction_mode="control_fully")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        scope, self._scope = self._scope, None
        assert scope is not None
        session = scope.opened_session
        # The connection is this block's own unless the session came from the factory.
        owned = self._engine is not None
        try:
            if exc_type is None:
                if session is not None:
                    session.commit()
                if owned:
                    scope.connection.commit()
            else:
                if session is not None:
                    session.rollback()
                if owned:
                    scope.connection.rollback()
        finally:
            if session is not None:
                session.close()
            if owned:
                scope.connection.close()

    def ping(self) -> None:
        """One round trip to the database (`SELECT 1`) in the open unit of work; raises the
        driver's error, wrapped by SQLAlchemy, when the database cannot be reached."""
        if self._scope is None:
            raise RuntimeError("this unit of work is not open")
        self._scope.connection.execute(text("SELECT 1"))
