"""Long recordings in chunks: where to cut, one span transcribed alone, the whole stitched.

A recording longer than `chunk_seconds` is cut into about equal chunks, each cut in the
longest pause near its target (the silero VAD faster-whisper bundles, run only on the
audio around each target): a cut in a pause splits no word, so the chunks' words laid end
to end are the recording's, none twice and none lost. Each chunk is transcribed from its
span alone (decoded by seeking, not the whole recording) without speakers; speakers are
labelled once on the stitched whole, so one voice is one label across the chunks.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from faster_whisper.vad import VadOptions, get_speech_timestamps

from integrations.audio import SAMPLE_RATE, decode_range, duration_of, write_wav
from integrations.diarization.base import NamedTurn
from integrations.transcription.base import (
    NoSpeechError,
    PassedOver,
    RecordingTranscriber,
    TranscribedSegment,
    Transcript,
    UnreadableMediaError,
    Word,
)
from integrations.transcription.platform import is_transcript_file

# Each cut is looked for this far either side of its target, at most: a tenth of a chunk.
_LONGEST_SEARCH_S = 30.0
# Pauses shorter than this stay inside speech, as in the local transcriber.
_MIN_PAUSE_MS = 160

Span = tuple[float, float]


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
    `transcriber` (no speakers), the whole labelled by `speakers`."""

    chunk_seconds: float
    transcriber: RecordingTranscriber
    speakers: SpeakerLabeller

    def close(self) -> None:
        """Release what the providers hold (HTTP clients' connections)."""
        # The speakers' transcriber wraps the chunks' one: closed through it, once.
        self.speakers.close()

    def cuts(self, path: Path) -> list[Span] | None:
        """The chunks' spans when `path` is a recording longer than `chunk_seconds`; None
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
        return plan_chunks(path, duration, self.chunk_seconds)

    def transcribe_span(
        self,
        path: Path,
        span: Span,
        *,
        title: str | None,
        participants: Sequence[str],
        language: str | None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """The speech from `span[0]` to `span[1]` of `path`, times in the whole recording.

        A span without speech is an empty transcript (language ""), not an error: the
        recording as a whole has speech or not, which the stitching tells."""
        start, end = span
        audio = decode_range(path, start, end)
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
                    on_progress=on_progress,
                )
            except NoSpeechError:
                return Transcript(segments=(), language="", duration=end - start, provider="")
        return replace(
            transcript,
            segments=tuple(_shifted(segment, start, end) for segment in transcript.segments),
            duration=end - start,
        )


def plan_chunks(path: Path, duration: float, chunk_seconds: float) -> list[Span]:
    """About equal spans of at most about `chunk_seconds`, each cut in the longest pause
    near its target."""
    count = math.ceil(duration / chunk_seconds)
    length = duration / count
    reach = min(_LONGEST_SEARCH_S, length / 10)
    cuts = [0.0]
    for k in range(1, count):
        target = k * length
        cuts.append(_longest_pause(path, target, max(cuts[-1] + reach, target - reach), reach))
    cuts.append(duration)
    return list(itertools.pairwise(cuts))


def _longest_pause(path: Path, target: float, lo: float, reach: float) -> float:
    """The middle of the longest pause between `lo` and `target + reach`, the nearest to
    `target` of equally long ones; `target` itself when that stretch is all speech or all
    silence."""
    hi = target + reach
    audio = decode_range(path, lo, hi)
    options = VadOptions(min_silence_duration_ms=_MIN_PAUSE_MS, speech_pad_ms=0)
    speech = [
        (lo + float(span["start"]) / SAMPLE_RATE, lo + float(span["end"]) / SAMPLE_RATE)
        for span in get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
    ]
    if not speech:
        return target
    pauses = [(lo, speech[0][0])]
    pauses += [(end, start) for (_, end), (start, _) in itertools.pairwise(speech)]
    pauses.append((speech[-1][1], lo + len(audio) / SAMPLE_RATE))
    pauses = [(start, end) for start, end in pauses if end > start]
    if not pauses:
        return target
    # The longest (to the centisecond), then the nearest the target.
    start, end = max(
        pauses, key=lambda p: (round(p[1] - p[0], 2), -abs((p[0] + p[1]) / 2 - target))
    )
    return (start + end) / 2


def _shifted(segment: TranscribedSegment, start: float, end: float) -> TranscribedSegment:
    """`segment` of a chunk moved to where the chunk (`start` to `end`) lies in the whole."""

    def at(seconds: float) -> float:
        return min(max(start + seconds, start), end)

    return replace(
        segment,
        start=at(segment.start),
        end=at(segment.end),
        words=tuple(replace(w, start=at(w.start), end=at(w.end)) for w in segment.words),
    )


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
