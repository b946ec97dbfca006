"""The one engine and session factory, and the unit of work that owns a transaction."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from repositories.chunks import TranscriptChunkRepository
from repositories.circuits import ProviderCircuitRepository
from repositories.conversations import ConversationRepository
from repositories.outbox import GraphOutboxRepository
from repositories.participants import ParticipantRepository
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

    Reusable: every `with uow:` opens a new session, so a stage can keep a slow step (a
    transcription) outside any transaction and hold no connection while it runs.
    """

    conversations: ConversationRepository
    participants: ParticipantRepository
    segments: TranscriptSegmentRepository
    syntheses: SynthesisRepository
    graph_outbox: GraphOutboxRepository
    chunks: TranscriptChunkRepository
    circuits: ProviderCircuitRepository

    def __init__(self, session_factory: sessionmaker[Session], *, autocommit: bool = False) -> None:
        self._session_factory = session_factory
        self._autocommit = autocommit
        self._session: Session | None = None

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
        if self._session is not None:
            raise RuntimeError("this unit of work is already open")
        session = self._session = self._session_factory()
        # A session bound to a connection rather than the engine is inside its owner's
        # transaction (the tests' rolled-back one): its statements run in that instead.
        bind = session.get_bind()
        if self._autocommit and isinstance(bind, Engine) and bind.dialect.name == "postgresql":
            # Checks the connection out now, in autocommit mode; the pool resets the mode
            # when it is returned.
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        self.conversations = ConversationRepository(session)
        self.participants = ParticipantRepository(session)
        self.segments = TranscriptSegmentRepository(session)
        self.syntheses = SynthesisRepository(session)
        self.graph_outbox = GraphOutboxRepository(session)
        self.chunks = TranscriptChunkRepository(session)
        self.circuits = ProviderCircuitRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        assert session is not None
        try:
            if exc_type is None:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()

    def ping(self) -> None:
        """One round trip to the database (`SELECT 1`) in the open unit of work; raises the
        driver's error, wrapped by SQLAlchemy, when the database cannot be reached."""
        if self._session is None:
            raise RuntimeError("this unit of work is not open")
        self._session.execute(text("SELECT 1"))
