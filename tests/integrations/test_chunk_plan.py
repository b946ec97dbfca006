"""Where a long recording is cut, and one chunk heard alone, on the real recording."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from faster_whisper.vad import VadOptions, get_speech_timestamps

from integrations.audio import SAMPLE_RATE, decode_file, decode_range, duration_of
from integrations.transcription.chunks import plan_chunks

CHUNK_SECONDS = 300.0


@pytest.fixture(scope="module")
def spans(long_meeting: Path) -> list[tuple[float, float]]:
    return plan_chunks(long_meeting, duration_of(long_meeting), CHUNK_SECONDS)


class TestPlanChunks:
    def test_chunks_cover_the_recording_end_to_end(
        self, long_meeting: Path, spans: list[tuple[float, float]]
    ) -> None:
        assert len(spans) == math.ceil(duration_of(long_meeting) / CHUNK_SECONDS)
        assert spans[0][0] == 0.0
        assert spans[-1][1] == pytest.approx(duration_of(long_meeting))
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
        # About equal, none much past CHUNK_SECONDS: each cut near its target.
        lengths = [end - start for start, end in spans]
        assert max(lengths) <= CHUNK_SECONDS * 1.1
        assert max(lengths) - min(lengths) <= CHUNK_SECONDS * 0.2

    def test_every_cut_falls_in_a_pause(
        self, long_meeting: Path, spans: list[tuple[float, float]]
    ) -> None:
        for _, cut in spans[:-1]:
            # The VAD over the ten seconds around the cut, a context of its own.
            around = decode_range(long_meeting, cut - 5.0, cut + 5.0)
            speech = get_speech_timestamps(
                around,
                VadOptions(min_silence_duration_ms=100, speech_pad_ms=0),
                sampling_rate=SAMPLE_RATE,
            )
            at = 5.0 * SAMPLE_RATE
            assert not [s for s in speech if s["start"] <= at <= s["end"]], cut
            # And quiet, to the sample: no word is cut in two.
            edge = around[round(at) - 800 : round(at) + 800]
            assert float(np.sqrt(np.mean(np.square(edge)))) < 0.01, cut

    def test_a_span_decodes_to_the_same_samples_as_the_whole(self, long_meeting: Path) -> None:
        whole = decode_file(long_meeting)
        span = decode_range(long_meeting, 301.25, 317.5)
        assert np.array_equal(span, whole[round(301.25 * SAMPLE_RATE) : round(317.5 * SAMPLE_RATE)])
