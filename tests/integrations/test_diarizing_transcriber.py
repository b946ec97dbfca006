"""Speakers on recordings' transcripts: by channel, from a given timeline, from the voices."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from integrations.audio import SAMPLE_RATE, decode_stereo
from integrations.diarization.base import (
    DiarizerUnavailableError,
    NamedTurn,
    SpeakerTurn,
)
from integrations.diarization.scoring import score
from integrations.diarization.transcriber import DiarizingTranscriber, separate_voices
from integrations.diarization.voice import VoiceDiarizer
from integrations.transcription.base import Transcript
from integrations.transcription.local import LocalWhisperTranscriber

MEETINGS = ("launch-planning", "incident-review")


def true_timeline(corpus: Path, meeting: str) -> list[NamedTurn]:
    turns = json.loads((corpus / "voices" / f"{meeting}.timeline.json").read_text())
    return [NamedTurn(turn["start"], turn["end"], turn["speaker"]) for turn in turns]


def participants(corpus: Path, meeting: str) -> list[str]:
    script = json.loads((corpus / "scripted" / f"{meeting}.json").read_text())
    return [person["name"] for person in script["participants"]]


def true_speaker(start: float, end: float, timeline: list[NamedTurn]) -> str:
    """The person whose turns overlap [start, end] longest."""
    return max(timeline, key=lambda turn: min(end, turn.end) - max(start, turn.start)).name


def write_wav(path: Path, samples: np.ndarray, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


class UnavailableDiarizer:
    """A diarizer whose model is not installed here, as VoiceDiarizer without its weights."""

    name = "unavailable"

    def diarize(self, path: Path, *, max_speakers: int | None = None) -> tuple[SpeakerTurn, ...]:
        raise DiarizerUnavailableError("the voice encoder's weights are not installed")


@pytest.fixture(scope="module")
def whisper() -> LocalWhisperTranscriber:
    return LocalWhisperTranscriber()


@pytest.fixture(scope="module")
def transcriber(whisper: LocalWhisperTranscriber) -> DiarizingTranscriber:
    return DiarizingTranscriber(whisper, VoiceDiarizer())


@pytest.fixture(scope="module")
def clustered(corpus: Path, transcriber: DiarizingTranscriber) -> dict[str, Transcript]:
    return {
        meeting: transcriber.transcribe(
            corpus / "voices" / f"{meeting}.flac", participants=participants(corpus, meeting)
        )
        for meeting in MEETINGS
    }


class TestTimeline:
    @pytest.mark.parametrize("meeting", MEETINGS)
    def test_every_segment_is_named_right(
        self, corpus: Path, meeting: str, whisper: LocalWhisperTranscriber
    ) -> None:
        timeline = true_timeline(corpus, meeting)
        # No diarizer: the timeline alone names the words.
        transcript = DiarizingTranscriber(whisper, None).transcribe(
            corpus / "voices" / f"{meeting}.flac", timeline=timeline
        )

        assert transcript.segments
        wrong = [
            segment
            for segment in transcript.segments
            if segment.speaker != true_speaker(segment.start, segment.end, timeline)
        ]
        assert wrong == []


class TestVoices:
    @pytest.mark.parametrize("meeting", MEETINGS)
    def test_segment_time_goes_to_the_right_person(
        self, corpus: Path, meeting: str, clustered: dict[str, Transcript]
    ) -> None:
        transcript = clustered[meeting]

        labels = {segment.speaker for segment in transcript.segments}
        assert labels == {f"Speaker {n}" for n in range(1, len(labels) + 1)}
        assert len(labels) == len(participants(corpus, meeting))
        segments = [
            SpeakerTurn(segment.start, segment.end, segment.speaker or "")
            for segment in transcript.segments
        ]
        truth = [
            SpeakerTurn(turn.start, turn.end, turn.name) for turn in true_timeline(corpus, meeting)
        ]
        assert score(truth, segments).attributed >= 0.9

    def test_one_voice_is_one_speaker(
        self, corpus: Path, transcriber: DiarizingTranscriber
    ) -> None:
        transcript = transcriber.transcribe(corpus / "speech" / "jfk.flac")

        assert transcript.segments
        assert {segment.speaker for segment in transcript.segments} == {"Speaker 1"}

    def test_a_failing_diarizer_keeps_the_transcript_without_speakers(
        self, corpus: Path, whisper: LocalWhisperTranscriber
    ) -> None:
        path = corpus / "speech" / "jfk.flac"

        transcript = DiarizingTranscriber(whisper, UnavailableDiarizer()).transcribe(path)

        assert transcript.segments == whisper.transcribe(path).segments
        assert {segment.speaker for segment in transcript.segments} == {None}


class TestChannels:
    def test_each_channel_is_one_speaker_with_its_sentences_intact(
        self, corpus: Path, tmp_path: Path, whisper: LocalWhisperTranscriber
    ) -> None:
        path = corpus / "speech" / "stereo_diarization.wav"
        alone = []
        for index, channel in enumerate(decode_stereo(path)):
            write_wav(tmp_path / f"{index}.wav", channel)
            alone.append(
                " ".join(s.text for s in whisper.transcribe(tmp_path / f"{index}.wav").segments)
            )

        transcript = DiarizingTranscriber(whisper, VoiceDiarizer()).transcribe(
            path, participants=["Ana Ruiz", "Ben Okoro"]
        )

        said = {
            name: " ".join(s.text for s in transcript.segments if s.speaker == name)
            for name in ("Ana Ruiz", "Ben Okoro")
        }
        assert {segment.speaker for segment in transcript.segments} == {"Ana Ruiz", "Ben Okoro"}
        assert said == {"Ana Ruiz": alone[0], "Ben Okoro": alone[1]}
        starts = [segment.start for segment in transcript.segments]
        assert starts == sorted(starts)

    def test_channels_are_speakers_in_order_without_participants(
        self, corpus: Path, whisper: LocalWhisperTranscriber
    ) -> None:
        transcript = DiarizingTranscriber(whisper, None).transcribe(
            corpus / "speech" / "stereo_diarization.wav"
        )

        assert {s.speaker for s in transcript.segments} == {"Speaker 1", "Speaker 2"}

    def test_stereo_of_one_mix_is_not_split(self, corpus: Path, tmp_path: Path) -> None:
        left, right = decode_stereo(corpus / "speech" / "stereo_diarization.wav")
        mix = (left + right) / 2
        copies = tmp_path / "copies.wav"
        write_wav(copies, np.stack([mix, mix], axis=1).reshape(-1), channels=2)
        # The right channel a little quieter, as a panned mix is.
        panned = tmp_path / "panned.wav"
        write_wav(panned, np.stack([mix, 0.7 * mix], axis=1).reshape(-1), channels=2)

        assert separate_voices(copies) is None
        assert separate_voices(panned) is None
        assert separate_voices(corpus / "speech" / "stereo_diarization.wav") is not None
