"""Long recordings in chunks, stage by stage, on a committed PostgreSQL database: planned,
taken by whichever worker (here: unit of work) comes, kept once done, stitched once."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from integrations.audio import decode_file, duration_of
from integrations.audio_sources import AudioSources
from integrations.diarization.transcriber import DiarizingTranscriber
from integrations.transcription.base import (
    TranscribedSegment,
    Transcript,
    UnreadableMediaError,
    Word,
)
from integrations.transcription.chunks import LanguageDetector, LongRecordings
from integrations.transcription.local import LocalWhisperTranscriber, speech_spans
from pipeline import stages
from pipeline.config import Settings
from pipeline.leases import Leases
from pipeline.providers import build_transcriber
from pipeline.stages import StageOutcome
from repositories.database import UnitOfWork, create_session_factory
from repositories.models import (
    ChunkState,
    Conversation,
    ConversationStatus,
    TranscriptChunk,
    TranscriptSegment,
    utc_now,
)
from tests import factories

Status = ConversationStatus
# jfk.flac is 11 s of speech with pauses: three chunks of about 4 s.
CHUNK_SECONDS = 4.0


class ChunkProvider:
    """Stands in for the transcription service: one segment per file it hears, saying how
    long the file is; `arrive` is called before it answers, `broken` files fail."""

    def __init__(self, arrive: Callable[[], object] = lambda: None) -> None:
        self.heard: list[float] = []
        self.languages: list[str | None] = []  # the language each call was given
        self.speech: list[list[tuple[float, float]] | None] = []  # and where the speech is
        self.arrive = arrive
        self.broken: set[int] = set()  # calls (from 1) that fail

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        language: str | None = None,
        speech: Sequence[tuple[float, float]] | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        seconds = duration_of(path)
        self.heard.append(seconds)
        self.languages.append(language)
        self.speech.append(None if speech is None else list(speech))
        if len(self.heard) in self.broken:
            raise UnreadableMediaError("the service could not read it")
        self.arrive()
        text = f"heard {len(self.heard)}"
        return Transcript(
            segments=(
                TranscribedSegment(
                    0.1,
                    seconds - 0.1,
                    text,
                    words=(Word("heard", 0.1, 0.5), Word(str(len(self.heard)), 0.5, 0.9)),
                ),
            ),
            language="en" if len(self.heard) != 2 else "de",
            duration=seconds,
            provider="test",
            model="m1",
        )


@pytest.fixture(scope="module")
def engine(committed_database: tuple[str, Engine]) -> Engine:
    return committed_database[1]


@pytest.fixture
def uow(engine: Engine) -> UnitOfWork:
    return UnitOfWork(create_session_factory(engine))


@pytest.fixture
def sources(corpus: Path) -> AudioSources:
    return AudioSources([corpus])


def long_recordings(
    provider: ChunkProvider,
    seconds: float = CHUNK_SECONDS,
    detector: LanguageDetector | None = None,
) -> LongRecordings:
    return LongRecordings(
        chunk_seconds=seconds,
        transcriber=provider,
        speakers=DiarizingTranscriber(provider, diarizer=None),
        detector=detector,
    )


def planned(
    uow: UnitOfWork,
    corpus: Path,
    provider: ChunkProvider,
    sources: AudioSources,
    detector: LanguageDetector | None = None,
) -> uuid.UUID:
    conversation_id = factories.conversation(uow, source_uri=str(corpus / "speech" / "jfk.flac"))
    outcome = stages.transcribe(
        conversation_id,
        uow=uow,
        transcriber=build_transcriber(Settings()),
        sources=sources,
        long_recordings=long_recordings(provider, detector=detector),
    )
    assert outcome is StageOutcome.CHUNKED
    return conversation_id


def chunk_rows(uow: UnitOfWork, conversation_id: uuid.UUID) -> list[TranscriptChunk]:
    with uow:
        return list(
            uow.chunks.session.scalars(
                select(TranscriptChunk)
                .where(TranscriptChunk.conversation_id == conversation_id)
                .order_by(TranscriptChunk.position)
            )
        )


def conversation(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    with uow:
        row = uow.conversations.get_by_id(conversation_id)
    assert row is not None
    return row


def transcript(uow: UnitOfWork, conversation_id: uuid.UUID) -> list[TranscriptSegment]:
    with uow:
        row = uow.conversations.get_with_transcript(conversation_id)
    assert row is not None
    return list(row.segments)


def run_chunk(
    uow: UnitOfWork,
    conversation_id: uuid.UUID,
    chunk_id: uuid.UUID,
    provider: ChunkProvider,
    sources: AudioSources,
) -> StageOutcome:
    return stages.transcribe_chunk(
        conversation_id,
        chunk_id,
        uow=uow,
        long_recordings=long_recordings(provider),
        sources=sources,
        leases=Leases(),
    )


def stitch(
    uow: UnitOfWork, conversation_id: uuid.UUID, provider: ChunkProvider, sources: AudioSources
) -> StageOutcome:
    return stages.transcribe(
        conversation_id,
        uow=uow,
        transcriber=build_transcriber(Settings()),
        sources=sources,
        long_recordings=long_recordings(provider),
    )


class TestChunkedTranscription:
    def test_a_long_recording_becomes_chunks_queued_for_any_worker(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = planned(uow, corpus, provider, sources)

        chunks = chunk_rows(uow, conversation_id)
        assert len(chunks) == 3
        assert chunks[0].start == 0.0
        assert chunks[-1].end == pytest.approx(duration_of(corpus / "speech" / "jfk.flac"))
        assert all(a.end == b.start for a, b in itertools.pairwise(chunks))
        assert all(c.state is ChunkState.PENDING and c.lease_token is None for c in chunks)
        assert all(c.lease_expires_at is not None for c in chunks)  # the sweep's deadline
        assert stages.chunks_to_send(conversation_id, uow=uow) == [c.id for c in chunks]
        row = conversation(uow, conversation_id)
        assert row.status is Status.TRANSCRIBING
        assert (row.lease_token, row.lease_expires_at, row.progress) == (None, None, 0)
        assert provider.heard == []  # nothing transcribed yet: the chunks are the work

    def test_chunks_land_with_progress_and_are_stitched_in_order(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = planned(uow, corpus, provider, sources)
        chunks = chunk_rows(uow, conversation_id)

        outcomes = [run_chunk(uow, conversation_id, c.id, provider, sources) for c in chunks]

        assert outcomes == [StageOutcome.DONE, StageOutcome.DONE, StageOutcome.LAST_CHUNK]
        assert stitch(uow, conversation_id, provider, sources) is StageOutcome.DONE
        row = conversation(uow, conversation_id)
        assert row.status is Status.SYNTHESIZING
        # The weighted language: two of three chunks (most of the speech) were English.
        assert (row.language, row.transcription_provider) == ("en", "test")
        assert row.duration_seconds == pytest.approx(chunks[-1].end)
        segments = transcript(uow, conversation_id)
        assert [s.text for s in segments] == ["heard 1", "heard 2", "heard 3"]
        # Each chunk's times moved to where it lies in the whole recording.
        assert [round(s.start, 3) for s in segments] == [round(c.start + 0.1, 3) for c in chunks]
        assert segments[1].words[0]["start"] == pytest.approx(chunks[1].start + 0.1)
        # Each chunk heard only its own span.
        assert provider.heard == pytest.approx([c.end - c.start for c in chunks], abs=0.01)

    def test_every_chunk_is_given_the_language_told_once_for_the_whole_recording(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = planned(
            uow, corpus, provider, sources, detector=LocalWhisperTranscriber()
        )
        chunks = chunk_rows(uow, conversation_id)

        for chunk in chunks:
            run_chunk(uow, conversation_id, chunk.id, provider, sources)

        assert [c.language for c in chunks] == ["en"] * 3
        # No chunk told its own: each was given the recording's, so one model for all.
        assert provider.languages == ["en"] * 3

    def test_a_language_the_upload_names_is_given_to_every_chunk(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = factories.conversation(
            uow, source_uri=str(corpus / "speech" / "jfk.flac"), requested_language="de"
        )
        stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=build_transcriber(Settings()),
            sources=sources,
            long_recordings=long_recordings(provider, detector=LocalWhisperTranscriber()),
        )

        for chunk in chunk_rows(uow, conversation_id):
            run_chunk(uow, conversation_id, chunk.id, provider, sources)

        assert provider.languages == ["de"] * 3

    def test_each_chunk_is_given_the_speech_found_over_the_whole_recording(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = planned(uow, corpus, provider, sources)
        chunks = chunk_rows(uow, conversation_id)

        for chunk in chunks:
            run_chunk(uow, conversation_id, chunk.id, provider, sources)

        whole = speech_spans(decode_file(corpus / "speech" / "jfk.flac"))
        # In each chunk's own time; laid end to end, the whole recording's speech (a span
        # a cut crosses comes in two pieces).
        heard = [
            (c.start + s, c.start + e)
            for c, spans in zip(chunks, provider.speech, strict=True)
            for s, e in spans or ()
        ]
        assert all(provider.speech)
        joined = [heard[0]]
        for start, end in heard[1:]:
            if start == pytest.approx(joined[-1][1], abs=1e-3):
                joined[-1] = (joined[-1][0], end)
            else:
                joined.append((start, end))
        assert [edge for span in joined for edge in span] == pytest.approx(
            [edge for span in whole for edge in span], abs=1e-3
        )

    def test_a_chunk_planned_without_its_speech_leaves_finding_it_to_the_transcriber(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = planned(uow, corpus, provider, sources)
        first = chunk_rows(uow, conversation_id)[0]
        with uow:  # as chunks planned before the plan kept the speech
            uow.chunks.update_where(TranscriptChunk.id == first.id, speech=None)

        run_chunk(uow, conversation_id, first.id, provider, sources)

        assert provider.speech == [None]

    def test_progress_is_chunks_done_over_chunks(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = planned(uow, corpus, provider, sources)
        first = chunk_rows(uow, conversation_id)[0]

        run_chunk(uow, conversation_id, first.id, provider, sources)

        assert conversation(uow, conversation_id).progress == 33
        # A done chunk is never taken again.
        assert run_chunk(uow, conversation_id, first.id, provider, sources) is StageOutcome.SKIPPED
        assert len(provider.heard) == 1

    def test_two_chunks_finishing_together_move_the_conversation_once(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = planned(uow, corpus, provider, sources)
        first, *last_two = chunk_rows(uow, conversation_id)
        run_chunk(uow, conversation_id, first.id, provider, sources)
        # The last two chunks' answers arrive together, on two workers.
        together = threading.Barrier(2)
        racing = ChunkProvider(arrive=lambda: together.wait(timeout=30))

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(
                pool.map(
                    lambda chunk: run_chunk(uow.fork(), conversation_id, chunk.id, racing, sources),
                    last_two,
                )
            )
            assert sorted(outcomes) == sorted([StageOutcome.DONE, StageOutcome.LAST_CHUNK])
            # Both workers' stitching messages arrive together too: one moves it.
            stitched = list(
                pool.map(lambda _: stitch(uow.fork(), conversation_id, provider, sources), range(2))
            )

        assert sorted(stitched) == sorted([StageOutcome.DONE, StageOutcome.SKIPPED])
        assert stitch(uow, conversation_id, provider, sources) is StageOutcome.SKIPPED
        row = conversation(uow, conversation_id)
        assert row.status is Status.SYNTHESIZING
        segments = transcript(uow, conversation_id)
        assert len(segments) == 3

    def test_a_retry_redoes_only_the_unfinished_chunks(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        provider.broken = {2}
        conversation_id = planned(uow, corpus, provider, sources)
        chunks = chunk_rows(uow, conversation_id)
        run_chunk(uow, conversation_id, chunks[0].id, provider, sources)

        with pytest.raises(UnreadableMediaError):
            run_chunk(uow, conversation_id, chunks[1].id, provider, sources)
        assert conversation(uow, conversation_id).status is Status.FAILED
        # The failed conversation's other chunks are not taken.
        assert run_chunk(uow, conversation_id, chunks[2].id, provider, sources) is (
            StageOutcome.SKIPPED
        )

        assert stages.reset_for_retry(conversation_id, uow=uow)
        assert stitch(uow, conversation_id, provider, sources) is StageOutcome.CHUNKED
        assert stages.chunks_to_send(conversation_id, uow=uow) == [chunks[1].id, chunks[2].id]
        for chunk in chunks[1:]:
            run_chunk(uow, conversation_id, chunk.id, provider, sources)
        assert stitch(uow, conversation_id, provider, sources) is StageOutcome.DONE
        # Chunk 1 once, chunk 2 twice (failed, then redone), chunk 3 once.
        assert len(provider.heard) == 4
        texts = [s.text for s in transcript(uow, conversation_id)]
        assert texts == ["heard 1", "heard 3", "heard 4"]

    def test_the_sweep_sends_again_a_chunk_whose_worker_died(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = planned(uow, corpus, provider, sources)
        chunk = chunk_rows(uow, conversation_id)[0]
        # A worker took the chunk and died: its lease lapses at once.
        with uow:
            now = utc_now()
            assert uow.chunks.claim(
                chunk.id, token=uuid.uuid4(), lease_until=now - timedelta(seconds=1), now=now
            )
        leases = Leases(requeue_after=60)

        sweep = stages.requeue_stuck(uow=uow, leases=leases, still_queued=lambda lapsed: set())

        lost = [c for c in sweep.lost_chunks if c.conversation_id == conversation_id]
        assert [(c.id, c.leased) for c in lost] == [(chunk.id, True)]
        # Looked at again only once `requeue_after` has passed.
        again = stages.requeue_stuck(uow=uow, leases=leases, still_queued=lambda lapsed: set())
        assert chunk.id not in [c.id for c in again.lost_chunks]
        # The message sent again takes it over.
        assert run_chunk(uow, conversation_id, chunk.id, provider, sources) is StageOutcome.DONE
        assert chunk_rows(uow, conversation_id)[0].deliveries == 2

    def test_a_recording_within_chunk_seconds_is_transcribed_whole(
        self, uow: UnitOfWork, corpus: Path, sources: AudioSources
    ) -> None:
        provider = ChunkProvider()
        conversation_id = factories.conversation(
            uow, source_uri=str(corpus / "speech" / "jfk.flac")
        )

        outcome = stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=DiarizingTranscriber(provider, diarizer=None),
            sources=sources,
            long_recordings=long_recordings(provider, seconds=60.0),
        )

        assert outcome is StageOutcome.DONE
        assert chunk_rows(uow, conversation_id) == []
        assert provider.heard == pytest.approx([duration_of(corpus / "speech" / "jfk.flac")])
