"""A 27-minute recording across two real worker processes, one killed mid-chunk: the
meeting completes, each chunk done once, its transcript in words the unchunked one's."""

from __future__ import annotations

import itertools
import time
import uuid
from pathlib import Path

import jiwer
import pytest
from sqlalchemy import select
from whisper_normalizer.english import EnglishTextNormalizer

from integrations.transcription.base import Transcript
from integrations.transcription.local import LocalWhisperTranscriber
from repositories.models import ChunkState, ConversationStatus, TranscriptChunk
from tests.workers import Cluster, Worker, broker_url, cluster

__all__ = ["broker_url", "cluster"]  # the fixtures this module uses

Status = ConversationStatus
TITLE = "Release planning"  # what Cluster.enqueue gives, so whisper hears the same prompt
# The bar: the chunked transcript's words against the unchunked one's. Each chunk
# decodes the windows the whole recording's run decodes, so what differs is only what a
# window's neighbours in a batch change.
MAX_WER_BETWEEN = 0.02
# Speakers are labelled on the whole recording (tested in process, test_chunks_in_process);
# here the words are what is compared.
CHUNK_SECONDS = "300"

normalize = EnglishTextNormalizer()


@pytest.fixture(scope="module")
def unchunked(long_meeting: Path) -> Transcript:
    """The recording transcribed whole, as a recording within CHUNK_SECONDS is."""
    return LocalWhisperTranscriber().transcribe(long_meeting, title=TITLE)


def words(segments: list[tuple[float, float, str]], lo: float, hi: float) -> str:
    said = " ".join(text for start, end, text in segments if lo <= (start + end) / 2 < hi)
    return str(normalize(said))


def worker(cluster: Cluster, audio_roots: str, *, beat: bool = False) -> Worker:
    return cluster.worker(
        transcriber="local",
        beat=beat,
        CHUNK_SECONDS=CHUNK_SECONDS,
        DIARIZATION="none",
        AUDIO_ROOTS=audio_roots,
    )


def chunks_of(cluster: Cluster, conversation_id: uuid.UUID) -> list[TranscriptChunk]:
    with cluster.uow as uow:
        return list(
            uow.chunks.session.scalars(
                select(TranscriptChunk)
                .where(TranscriptChunk.conversation_id == conversation_id)
                .order_by(TranscriptChunk.position)
            )
        )


def wait_until_both_hold_a_chunk(cluster: Cluster, conversation_id: uuid.UUID) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        held = [c for c in chunks_of(cluster, conversation_id) if c.lease_token is not None]
        if len(held) == 2:
            return
        time.sleep(0.2)
    pytest.fail("the two workers never held a chunk each")


class TestChunksAcrossWorkers:
    def test_a_killed_worker_costs_only_its_chunk(
        self,
        cluster: Cluster,
        long_meeting: Path,
        long_meeting_script: str,
        unchunked: Transcript,
    ) -> None:
        roots = str(long_meeting.parent)
        doomed = worker(cluster, roots)
        worker(cluster, roots, beat=True)
        conversation_id = cluster.enqueue(
            long_meeting, CHUNK_SECONDS=CHUNK_SECONDS, AUDIO_ROOTS=roots
        )

        wait_until_both_hold_a_chunk(cluster, conversation_id)
        doomed.kill()  # kill -9 mid-chunk: its chunk's lease lapses, the sweep sends it again
        worker(cluster, roots)  # as a supervisor restarts it

        cluster.wait_for(conversation_id, Status.COMPLETED, timeout=900)

        chunks = chunks_of(cluster, conversation_id)
        assert len(chunks) == 6
        assert all(c.state is ChunkState.DONE for c in chunks)
        # Done once each: only the killed worker's chunk was taken twice.
        assert sorted(c.deliveries for c in chunks) == [1, 1, 1, 1, 1, 2]
        assert len({c.worker for c in chunks}) >= 2  # spread over the workers
        with cluster.uow as uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
        assert conversation is not None
        stitched = [(s.start, s.end, s.text) for s in conversation.segments]
        whole = [(s.start, s.end, s.text) for s in unchunked.segments]
        truth = str(normalize(long_meeting_script))
        chunked_wer = jiwer.wer(truth, words(stitched, 0, 1e9))
        whole_wer = jiwer.wer(truth, words(whole, 0, 1e9))
        between = jiwer.wer(words(whole, 0, 1e9), words(stitched, 0, 1e9))
        print(f"WER chunked {chunked_wer:.4f}, whole {whole_wer:.4f}, between {between:.4f}")
        assert between <= MAX_WER_BETWEEN

        # Stitched: every chunk's words, in order, each inside its own chunk, none twice.
        said = [
            word
            for c in chunks
            for segment in (c.result or {})["segments"]
            for word in segment["words"]
        ]
        assert [w["text"] for s in conversation.segments for w in s.words] == [
            w["text"] for w in said
        ]
        for c in chunks:
            for segment in (c.result or {})["segments"]:
                assert all(c.start <= w["start"] <= w["end"] <= c.end for w in segment["words"])
        assert all(a["end"] <= b["start"] + 0.05 for a, b in itertools.pairwise(said))
