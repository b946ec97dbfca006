"""Long recordings in chunks: where to cut, one span transcribed alone, the whole stitched.

A recording longer than `chunk_seconds` is cut into about equal chunks. The local
transcriber decodes speech in 30 s windows packed greedily from the recording's start
(faster-whisper's batched pipeline), and tiny models' errors move with their windows: a
chunk that packed its own windows from its own start would hear other windows than the
whole recording's run and differ from it in 5-7% of the words. So the plan runs the VAD
once over the whole recording, packs its windows, and cuts only where one of them begins
(the one after the longest pause near each target): each chunk is given the whole's speech
in its span, and so decodes the whole's windows. A cut between windows falls between
speech spans, so no word is split, and the chunks' words laid end to end are the
recording's, none twice and none lost. The language is told once for the whole recording
(several windows over it) and given to every chunk, so all share one language and model.
Each chunk is transcribed from its span alone (decoded by seeking, not the whole
recording) without speakers; speakers are labelled once on the stitched whole, so one
voice is one label across the chunks.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from integrations.audio import (
    SAMPLE_RATE,
    Samples,
    decode_file,
    decode_range,
    duration_of,
    write_wav,
)
from integrations.diarization.base import NamedTurn
from integrations.transcription.base import (
    NoSpeechError,
    PassedOver,
    RecordingTranscriber,
    TranscribedSegment,
    Transcript,
    UnreadableMediaError,
    Word,
    retimed,
)
from integrations.transcription.local import first_pass_windows, speech_spans
from integrations.transcription.platform import is_transcript_file

# Each cut is looked for this far either side of its target, at most: a tenth of a chunk.
_LONGEST_SEARCH_S = 30.0

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    """A chunk's span and the speech the VAD found in it over the whole recording
    (unpadded, seconds in the whole recording; None for a chunk planned before the plan
    kept it: the transcriber finds it in the span)."""

    start: float
    end: float
    speech: tuple[Span, ...] | None


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """A long recording's chunks, in order, and the language all of them are in (None:
    each chunk's provider tells it)."""

    chunks: list[PlannedChunk]
    language: str | None


class LanguageDetector(Protocol):
    def detect_language(self, audio: Samples, spans: Sequence[Span]) -> tuple[str, float]: ...


class SpeakerLabeller(Protocol):
    def close(self) -> None: ...

    def label_speakers(
        self,
        path: Path,
        transcript: Transcript,
        *,
        participants: Sequence[str] = (),
        timeline: Sequence[NamedTurn] = (),
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript: ...


@dataclass(frozen=True, slots=True)
class LongRecordings:
    """How long recordings are transcribed: cut past `chunk_seconds`, each chunk by
    `transcriber` (no speakers), the whole labelled by `speakers`. `detector` tells the
    whole recording's language when planning (None: each chunk's provider tells its own)."""

    chunk_seconds: float
    transcriber: RecordingTranscriber
    speakers: SpeakerLabeller
    detector: LanguageDetector | None = None

    def close(self) -> None:
        """Release what the providers hold (HTTP clients' connections)."""
        # The speakers' transcriber wraps the chunks' one: closed through it, once.
        self.speakers.close()

    def plan(self, path: Path, *, language: str | None) -> ChunkPlan | None:
        """The chunks when `path` is a recording longer than `chunk_seconds`, with
        `language`, or the one detected over the whole recording when that is None; None
        for any other file (a transcript, a short recording, one that does not decode: the
        transcriber of whole files says what is wrong with it)."""
        if is_transcript_file(path):
            return None
        try:
            duration = duration_of(path)
        except UnreadableMediaError:
            return None
        if duration <= self.chunk_seconds:
            return None
        audio = decode_file(path)
        spans = speech_spans(audio)
        if language is None and self.detector is not None and spans:
            language, _ = self.detector.detect_language(audio, spans)
        return ChunkPlan(plan_chunks(spans, len(audio) / SAMPLE_RATE, self.chunk_seconds), language)

    def transcribe_span(
        self,
        path: Path,
        chunk: PlannedChunk,
        *,
        title: str | None,
        participants: Sequence[str],
        language: str | None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """The speech of `chunk` of `path`, times in the whole recording.

        A span without speech is an empty transcript (language ""), not an error: the
        recording as a whole has speech or not, which the stitching tells."""
        start, end = chunk.start, chunk.end
        audio = decode_range(path, start, end)
        # The speech in the span's own time, to the sample the span's audio starts at.
        first = round(start * SAMPLE_RATE)
        speech = (
            None
            if chunk.speech is None
            else [
                (
                    (round(s * SAMPLE_RATE) - first) / SAMPLE_RATE,
                    (round(e * SAMPLE_RATE) - first) / SAMPLE_RATE,
                )
                for s, e in chunk.speech
            ]
        )
        with tempfile.TemporaryDirectory(prefix="minutes-chunk-") as folder:
            piece = Path(folder) / "chunk.wav"
            write_wav(piece, audio)
            del audio
            try:
                transcript = self.transcriber.transcribe(
                    piece,
                    title=title,
                    participants=participants,
                    language=language,
                    speech=speech,
                    on_progress=on_progress,
                )
            except NoSpeechError:
                return Transcript(segments=(), language="", duration=end - start, provider="")
        return replace(
            transcript,
            segments=tuple(_shifted(segment, start, end) for segment in transcript.segments),
            duration=end - start,
        )


def plan_chunks(spans: Sequence[Span], duration: float, chunk_seconds: float) -> list[PlannedChunk]:
    """About equal chunks of at most about `chunk_seconds` of a recording whose speech
    (unpadded, from `speech_spans`) is `spans`, each cut where a first-pass window begins,
    after the longest pause near its target."""
    count = math.ceil(duration / chunk_seconds)
    length = duration / count
    reach = min(_LONGEST_SEARCH_S, length / 10)
    # Where each window but the first begins, and the pause before its speech.
    boundaries = []
    index = 0
    for window in first_pass_windows(spans, duration):
        if index:
            boundaries.append((window[0][0], spans[index][0] - spans[index - 1][1]))
        index += len(window)
    cuts = [0.0]
    for k in range(1, count):
        target = k * length
        lo, hi = max(cuts[-1] + reach, target - reach), target + reach
        near = [(cut, pause) for cut, pause in boundaries if lo <= cut <= hi]
        if near:
            # The longest pause (to the centisecond), then the nearest the target.
            cut, _ = max(near, key=lambda b: (round(b[1], 2), -abs(b[0] - target)))
        else:
            # No window begins here (one window's speech spans a long silence): the
            # longest pause, though that window is cut in two.
            cut = _longest_pause(spans, target, lo, hi)
        cuts.append(cut)
    cuts.append(duration)
    return [
        PlannedChunk(
            start,
            end,
            tuple((max(s, start), min(e, end)) for s, e in spans if e > start and s < end),
        )
        for start, end in itertools.pairwise(cuts)
    ]


def _longest_pause(spans: Sequence[Span], target: float, lo: float, hi: float) -> float:
    """The middle of the longest pause between `lo` and `hi`, the nearest to `target` of
    equally long ones; `target` itself when that stretch is all speech."""
    inside = [(max(s, lo), min(e, hi)) for s, e in spans if e > lo and s < hi]
    edges = [lo, *itertools.chain.from_iterable(inside), hi]
    pauses = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]
    if not pauses:
        return target
    start, end = max(
        pauses, key=lambda p: (round(p[1] - p[0], 2), -abs((p[0] + p[1]) / 2 - target))
    )
    return (start + end) / 2


def _shifted(segment: TranscribedSegment, start: float, end: float) -> TranscribedSegment:
    """`segment` of a chunk moved to where the chunk (`start` to `end`) lies in the whole."""

    def at(seconds: float) -> float:
        return min(max(start + seconds, start), end)

    return retimed(segment, at)


def chunk_result(transcript: Transcript) -> dict[str, Any]:
    """A chunk's transcript as stored (JSON)."""
    return {
        "segments": [asdict(segment) for segment in transcript.segments],
        "language": transcript.language,
        "duration": transcript.duration,
        "provider": transcript.provider,
        "model": transcript.model,
        "passed_over": [asdict(passed) for passed in transcript.passed_over],
    }


def _from_result(result: dict[str, Any]) -> Transcript:
    return Transcript(
        segments=tuple(
            TranscribedSegment(
                start=segment["start"],
                end=segment["end"],
                text=segment["text"],
                speaker=segment["speaker"],
                words=tuple(Word(**word) for word in segment["words"]),
            )
            for segment in result["segments"]
        ),
        language=result["language"],
        duration=result["duration"],
        provider=result["provider"],
        model=result["model"],
        passed_over=tuple(PassedOver(**passed) for passed in result["passed_over"]),
    )


def _without_speakers(transcript: Transcript) -> Transcript:
    return replace(
        transcript, segments=tuple(replace(s, speaker=None) for s in transcript.segments)
    )


def stitch(results: Sequence[dict[str, Any]], duration: float) -> Transcript:
    """The whole recording's transcript from its chunks' stored results, in order.

    The language is the one most of the speech is in (weighted by each chunk's length);
    the provider (and model) are the chunks', comma separated when they differ; what a
    fallback passed over in any chunk is kept once. Raises NoSpeechError when no chunk
    held speech.
    """
    # A provider's own speaker labels (Soniox gives some) are a chunk's alone: its "Speaker
    # 1" is not the next chunk's. Left out, so the whole recording's are told once.
    chunks = [_without_speakers(_from_result(result)) for result in results]
    segments: list[TranscribedSegment] = []
    for chunk in chunks:
        for segment in chunk.segments:
            # Cuts fall in pauses, so a chunk's first segment starts after the last one
            # ended; the clamp only guards the alignment's jitter at the edge.
            floor = segments[-1].end if segments else 0.0
            if segment.start < floor:
                segment = replace(segment, start=floor, end=max(segment.end, floor))
            segments.append(segment)
    spoken = [chunk for chunk in chunks if chunk.segments]
    if not spoken:
        raise NoSpeechError("no speech found in any chunk of the recording")
    languages: dict[str, float] = {}
    for chunk in spoken:
        languages[chunk.language] = languages.get(chunk.language, 0.0) + chunk.duration
    models = list(dict.fromkeys(chunk.model for chunk in spoken if chunk.model))
    return Transcript(
        segments=tuple(segments),
        language=max(languages, key=languages.__getitem__),
        duration=duration,
        provider=",".join(dict.fromkeys(chunk.provider for chunk in spoken)),
        model=",".join(models) or None,
        passed_over=tuple(
            dict.fromkeys(passed for chunk in chunks for passed in chunk.passed_over)
        ),
    )
