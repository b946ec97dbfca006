"""Where a long recording is cut, and one chunk heard alone, on the real recording."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

from integrations.audio import SAMPLE_RATE, decode_file, decode_range, duration_of
from integrations.transcription.chunks import PlannedChunk, plan_chunks
from integrations.transcription.local import first_pass_windows, speech_spans

CHUNK_SECONDS = 300.0
Span = tuple[float, float]


@pytest.fixture(scope="module")
def audio(long_meeting: Path) -> npt.NDArray[np.float32]:
    return decode_file(long_meeting)


@pytest.fixture(scope="module")
def speech(audio: npt.NDArray[np.float32]) -> list[Span]:
    return speech_spans(audio)


@pytest.fixture(scope="module")
def chunks(long_meeting: Path, speech: list[Span]) -> list[PlannedChunk]:
    return plan_chunks(speech, duration_of(long_meeting), CHUNK_SECONDS)


def samples(windows: list[list[Span]], shift: float = 0.0) -> list[list[tuple[int, int]]]:
    return [
        [(round((s + shift) * SAMPLE_RATE), round((e + shift) * SAMPLE_RATE)) for s, e in w]
        for w in windows
    ]


class TestPlanChunks:
    def test_chunks_cover_the_recording_end_to_end(
        self, long_meeting: Path, chunks: list[PlannedChunk]
    ) -> None:
        assert len(chunks) == math.ceil(duration_of(long_meeting) / CHUNK_SECONDS)
        assert chunks[0].start == 0.0
        assert chunks[-1].end == pytest.approx(duration_of(long_meeting))
        assert all(a.end == b.start for a, b in itertools.pairwise(chunks))
        # About equal, none much past CHUNK_SECONDS: each cut near its target.
        lengths = [c.end - c.start for c in chunks]
        assert max(lengths) <= CHUNK_SECONDS * 1.1
        assert max(lengths) - min(lengths) <= CHUNK_SECONDS * 0.2

    def test_every_cut_falls_in_a_pause(
        self, long_meeting: Path, chunks: list[PlannedChunk]
    ) -> None:
        for chunk in chunks[1:]:
            cut = chunk.start
            # The VAD over the ten seconds around the cut, a context of its own.
            around = decode_range(long_meeting, cut - 5.0, cut + 5.0)
            found = get_speech_timestamps(
                around,
                VadOptions(min_silence_duration_ms=100, speech_pad_ms=0),
                sampling_rate=SAMPLE_RATE,
            )
            at = 5.0 * SAMPLE_RATE
            assert not [s for s in found if s["start"] <= at <= s["end"]], cut
            # And quiet, to the sample: no word is cut in two.
            edge = around[round(at) - 800 : round(at) + 800]
            assert float(np.sqrt(np.mean(np.square(edge)))) < 0.01, cut

    def test_the_first_pass_windows_are_faster_whispers_own(
        self, audio: npt.NDArray[np.float32], speech: list[Span]
    ) -> None:
        # What faster-whisper's batched pipeline decodes with vad_filter (its defaults).
        found = get_speech_timestamps(
            audio, VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160)
        )
        _, theirs = collect_chunks(audio, found, max_duration=30)
        ours = samples(first_pass_windows(speech, len(audio) / SAMPLE_RATE))
        assert [s for window in ours for s in window] == [(s["start"], s["end"]) for s in found]
        assert [sum(e - s for s, e in window) for window in ours] == [
            round(meta["duration"] * SAMPLE_RATE) for meta in theirs
        ]

    def test_each_chunk_decodes_the_whole_recordings_windows(
        self, audio: npt.NDArray[np.float32], speech: list[Span], chunks: list[PlannedChunk]
    ) -> None:
        whole = samples(first_pass_windows(speech, len(audio) / SAMPLE_RATE))
        from_chunks = []
        for chunk in chunks:
            # As the chunk sees its speech: in its own time, the recording's beyond unseen.
            assert chunk.speech is not None
            own = [(s - chunk.start, e - chunk.start) for s, e in chunk.speech]
            from_chunks += samples(first_pass_windows(own, chunk.end - chunk.start), chunk.start)
        assert len(from_chunks) == len(whole)
        for theirs, ours in zip(whole, from_chunks, strict=True):
            # To the sample; a window's last edge at a cut may take the one sample an odd
            # pause's halves differ by.
            assert [s for s, _ in ours] == [s for s, _ in theirs]
            assert np.abs(np.array(ours) - np.array(theirs)).max() <= 1

    def test_a_span_decodes_to_the_same_samples_as_the_whole(self, long_meeting: Path) -> None:
        whole = decode_file(long_meeting)
        span = decode_range(long_meeting, 301.25, 317.5)
        assert np.array_equal(span, whole[round(301.25 * SAMPLE_RATE) : round(317.5 * SAMPLE_RATE)])
