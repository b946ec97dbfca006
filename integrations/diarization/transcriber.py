"""Speakers on a recording's transcript: from the channels, a timeline given, or the voices.

Wraps the transcriber of recordings (platform transcripts carry their own speakers and
never come here). In order of trust:

1. a recording whose channels carry different voices (a call recorded one participant per
   channel) is transcribed channel by channel, each channel one speaker: downmixed, two
   people talking at once garble each other's sentences;
2. a speaker timeline given with the upload names the words directly;
3. otherwise the diarizer clusters the voices, and the transcript's words take their
   cluster's label ("Speaker 1", ...).

A diarizer that fails costs the speakers, never the meeting.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from integrations.audio import SAMPLE_RATE, Samples, channel_count, decode_stereo, write_wav
from integrations.diarization.base import DiarizationError, Diarizer, NamedTurn
from integrations.diarization.speakers import assign_speakers
from integrations.diarization.timeline import name_from_timeline
from integrations.synthesis.chain import Closeable
from integrations.transcription.base import (
    NoSpeechError,
    RecordingTranscriber,
    TranscribedSegment,
    Transcript,
)

log = logging.getLogger(__name__)

# Channels that are copies of one mix (plain stereo, a mono recording saved as two
# channels) correlate sample by sample; two people on their own microphones do not, even
# with some of each other's voice leaking in. Their loudness moves together only where
# they are one room's sound picked up twice.
_SAME_MIX_CORRELATION = 0.5
_SAME_MIX_LOUDNESS_CORRELATION = 0.7
# Loudness is compared over 100 ms frames.
_LOUDNESS_FRAME = SAMPLE_RATE // 10
# A channel this much quieter than the other (in RMS) is an unused one, not a voice.
_SILENT_CHANNEL_RATIO = 0.01
# The share of the progress the transcription reports; diarization fills the rest.
_TRANSCRIPTION_SHARE = 0.8


class DiarizingTranscriber:
    """A transcriber of recordings whose transcripts carry speakers."""

    def __init__(self, recordings: RecordingTranscriber, diarizer: Diarizer | None) -> None:
        """`diarizer` None: speakers only from the channels or a timeline."""
        self.recordings = recordings
        self._diarizer = diarizer

    def close(self) -> None:
        """Release what the wrapped providers hold (HTTP clients' connections)."""
        if isinstance(self.recordings, Closeable):
            self.recordings.close()

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        timeline: Sequence[NamedTurn] = (),
        language: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        report = on_progress or _ignore_progress
        channels = separate_voices(path)
        if channels is not None:
            return self._by_channel(
                channels,
                title=title,
                participants=participants,
                timeline=timeline,
                language=language,
                report=report,
            )
        transcript = self.recordings.transcribe(
            path,
            title=title,
            participants=participants,
            language=language,
            on_progress=lambda fraction: report(fraction * _TRANSCRIPTION_SHARE),
        )
        return self.label_speakers(
            path, transcript, participants=participants, timeline=timeline, on_progress=report
        )

    def label_speakers(
        self,
        path: Path,
        transcript: Transcript,
        *,
        participants: Sequence[str] = (),
        timeline: Sequence[NamedTurn] = (),
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """`transcript`, of the recording `path`, with its speakers: from `timeline` when one
        was given, else from the voices (the diarizer on the whole recording). A long
        recording's chunks are transcribed without speakers and labelled here once, whole,
        so one voice carries one label across them."""
        if timeline:
            return name_from_timeline(transcript, timeline)
        if self._diarizer is None or not transcript.segments:
            return transcript
        if any(segment.speaker for segment in transcript.segments):
            # The provider told the speakers apart (Soniox does): its labels stand.
            return transcript
        try:
            turns = self._diarizer.diarize(path, max_speakers=len(participants) or None)
        except DiarizationError:
            log.warning("diarization failed, speakers left out path=%s", path.name, exc_info=True)
            return transcript
        (on_progress or _ignore_progress)(1.0)
        # The voices come out as "Speaker 1", "Speaker 2"...: the transcribe stage names
        # them from what is said (naming.name_transcript), whoever labelled them.
        return assign_speakers(transcript, turns)

    def _by_channel(
        self,
        channels: Sequence[Samples],
        *,
        title: str | None,
        participants: Sequence[str],
        timeline: Sequence[NamedTurn],
        language: str | None,
        report: Callable[[float], None],
    ) -> Transcript:
        """Each channel transcribed alone as one speaker; the segments merged by time."""
        transcripts: list[Transcript] = []
        for index, samples in enumerate(channels):
            with tempfile.TemporaryDirectory(prefix="minutes-channel-") as folder:
                channel_file = Path(folder) / f"channel-{index + 1}.wav"
                write_wav(channel_file, samples)
                try:
                    transcript = self.recordings.transcribe(
                        channel_file,
                        title=title,
                        participants=participants,
                        language=language,
                        on_progress=_share(report, index, len(channels)),
                    )
                except NoSpeechError:
                    continue  # a channel nobody spoke on
            speaker = participants[index] if index < len(participants) else f"Speaker {index + 1}"
            if timeline:
                speaker = _most_overlapped(transcript.segments, timeline) or speaker
            transcripts.append(
                replace(
                    transcript,
                    segments=tuple(replace(s, speaker=speaker) for s in transcript.segments),
                )
            )
        if not transcripts:
            raise NoSpeechError("no channel of the recording holds speech")
        segments = sorted(
            (segment for transcript in transcripts for segment in transcript.segments),
            key=lambda segment: (segment.start, segment.end),
        )
        return replace(
            transcripts[0],
            segments=tuple(segments),
            duration=max(transcript.duration for transcript in transcripts),
        )


def separate_voices(path: Path) -> tuple[Samples, Samples] | None:
    """The two channels of a stereo recording whose channels carry different voices; None
    for any other recording (mono, or stereo of one mix)."""
    if channel_count(path) != 2:
        return None
    left, right = decode_stereo(path)
    loudness = [_rms_frames(left), _rms_frames(right)]
    if min(frames.size for frames in loudness) < 2:
        return None
    levels = [float(np.sqrt(np.mean(np.square(channel)))) for channel in (left, right)]
    if min(levels) <= max(levels) * _SILENT_CHANNEL_RATIO:
        return None
    if abs(_correlation(left, right)) >= _SAME_MIX_CORRELATION:
        return None
    if _correlation(*loudness) >= _SAME_MIX_LOUDNESS_CORRELATION:
        return None
    return left, right


def _rms_frames(samples: Samples) -> Samples:
    usable = samples[: samples.size // _LOUDNESS_FRAME * _LOUDNESS_FRAME]
    frames: Samples = np.sqrt(np.mean(np.square(usable.reshape(-1, _LOUDNESS_FRAME)), axis=1))
    return frames


def _correlation(a: Samples, b: Samples) -> float:
    length = min(a.size, b.size)
    a, b = a[:length], b[:length]
    if float(np.std(a)) == 0.0 or float(np.std(b)) == 0.0:
        return 1.0  # a constant channel carries no voice of its own
    return float(np.corrcoef(a, b)[0, 1])


def _most_overlapped(
    segments: Sequence[TranscribedSegment], timeline: Sequence[NamedTurn]
) -> str | None:
    """The name whose turns the segments overlap longest; None when they overlap none."""
    overlap: dict[str, float] = {}
    for segment in segments:
        for turn in timeline:
            shared = min(segment.end, turn.end) - max(segment.start, turn.start)
            if shared > 0:
                overlap[turn.name] = overlap.get(turn.name, 0.0) + shared
    return max(overlap, key=overlap.__getitem__) if overlap else None


def _share(report: Callable[[float], None], index: int, count: int) -> Callable[[float], None]:
    """Progress of the `index`th of `count` equal parts, reported as the whole's."""
    return lambda fraction: report((index + fraction) / count)


def _ignore_progress(fraction: float) -> None:
    pass
