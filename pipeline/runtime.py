"""What one process builds once from the settings: engine, session factory, providers."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from integrations.audio_sources import AudioSources
from integrations.email.smtp import Mailer
from integrations.graph.writer import GraphWriter
from integrations.synthesis.base import Synthesizer
from integrations.synthesis.chain import Closeable, SynthesisChain
from integrations.transcription.base import Transcriber
from integrations.transcription.chunks import LongRecordings
from pipeline import providers
from pipeline.circuits import DatabaseCircuits
from pipeline.config import Settings
from pipeline.leases import Leases
from pipeline.metrics import MeasuredTranscriber
from repositories.database import UnitOfWork, create_database_engine, create_session_factory


class Runtime:
    """`transcriber` and `synthesizer` given take the place of those the settings name
    (programs that embed the pipeline with providers of their own: benchmarks, tests); a
    lone synthesizer given becomes a chain of one, its notes going through the same steps."""

    def __init__(
        self,
        settings: Settings,
        *,
        extra_audio_roots: Sequence[Path] = (),
        transcriber: Transcriber | None = None,
        synthesizer: Synthesizer | SynthesisChain | None = None,
    ) -> None:
        self.settings = settings
        self.extra_audio_roots = extra_audio_roots
        # Built now, so a provider the settings cannot name fails at start-up; one set of
        # providers for whole recordings and long ones' chunks (None: a transcriber given).
        self._speakers = (
            None
            if transcriber is not None
            else providers.build_speakers(settings, circuits=DatabaseCircuits(self.unit_of_work))
        )
        self.transcriber: Transcriber = MeasuredTranscriber(
            transcriber
            if transcriber is not None
            else providers.build_transcriber(settings, speakers=self._speakers)
        )
        self._chains: dict[tuple[str, ...], SynthesisChain] = {}
        if synthesizer is None:
            self.synthesizer = providers.build_synthesizer(settings)
        elif isinstance(synthesizer, SynthesisChain):
            self.synthesizer = synthesizer
        else:
            self.synthesizer = providers.synthesis_chain([synthesizer])

    def synthesizer_for(self, order: Sequence[str] | None) -> SynthesisChain:
        """The providers `order` names, tried in that order; None: the configured ones.

        Built once per order: providers hold clients (connection pools) meant to live as
        long as the process.
        """
        if order is None:
            return self.synthesizer
        key = tuple(order)
        if key not in self._chains:
            self._chains[key] = providers.build_synthesizer(self.settings, key, setting="providers")
        return self._chains[key]

    @cached_property
    def engine(self) -> Engine:
        return create_database_engine(self.settings.database_url.get_secret_value())

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return create_session_factory(self.engine)

    def dispose_connections(self) -> None:
        """Forget pooled connections (in a forked child: they belong to the parent)."""
        if "engine" in vars(self):
            self.engine.dispose(close=False)
        # Likewise the Neo4j driver's sockets: dropped, not closed (closing talks on them).
        vars(self).pop("graph", None)

    def close(self) -> None:
        """Release what this runtime holds: pooled connections, the download client, the
        providers' clients."""
        for chain in (self.synthesizer, *self._chains.values()):
            chain.close()
        if isinstance(self.transcriber, Closeable):
            self.transcriber.close()
        # Its providers are the transcriber's, closed above, unless a transcriber was given.
        if "long_recordings" in vars(self) and self._speakers is None:
            self.long_recordings.close()
        if "engine" in vars(self):
            self.engine.dispose()
        if "sources" in vars(self):
            self.sources.close()
        if (writer := vars(self).get("graph")) is not None:
            writer.close()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    @cached_property
    def sources(self) -> AudioSources:
        return AudioSources(
            [*self.settings.audio_roots, *self.extra_audio_roots],
            allow_private_addresses=self.settings.allow_private_sources,
            max_download_bytes=self.settings.max_download_bytes,
        )

    @cached_property
    def graph(self) -> GraphWriter | None:
        """The Neo4j writer; None when NEO4J_URI is unset (graph events wait in the outbox)."""
        settings = self.settings
        if not settings.neo4j_uri:
            return None
        return GraphWriter.connect(
            settings.neo4j_uri,
            user=settings.neo4j_user,
            password=settings.neo4j_password.get_secret_value()
            if settings.neo4j_password
            else None,
            database=settings.neo4j_database,
            retry_seconds=settings.graph_retry_seconds,
        )

    @cached_property
    def long_recordings(self) -> LongRecordings:
        """How recordings past CHUNK_SECONDS are transcribed: in chunks, by any worker."""
        speakers = self._speakers or providers.build_speakers(
            self.settings, circuits=DatabaseCircuits(self.unit_of_work)
        )
        return providers.build_long_recordings(self.settings, speakers)

    @cached_property
    def mailer(self) -> Mailer | None:
        """The notes' mailer; None when SMTP_URL is unset."""
        return providers.build_mailer(self.settings)

    @cached_property
    def leases(self) -> Leases:
        return Leases(
            seconds=self.settings.lease_seconds,
            requeue_after=self.settings.requeue_after_seconds,
            max_deliveries=self.settings.max_deliveries,
        )
