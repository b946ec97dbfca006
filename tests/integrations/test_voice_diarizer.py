"""The numpy voice encoder and VoiceDiarizer on real recordings of distinct voices."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from faster_whisper import decode_audio
from faster_whisper.vad import VadOptions, get_speech_timestamps

from integrations.diarization.base import SpeakerTurn
from integrations.diarization.scoring import DiarizationScore, score
from integrations.diarization.speakers import assign_speakers
from integrations.diarization.voice import (
    _MIN_PAUSE_MS,
    _SPEECH_PAD_MS,
    _VAD_PIECE_S,
    VoiceDiarizer,
    _speech_spans,
)
from integrations.diarization.voice_encoder import (
    EMBEDDING_SIZE,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    VoiceEncoder,
    load_state,
    mel_frames,
)
from integrations.transcription.base import UnreadableMediaError
from integrations.transcription.local import LocalWhisperTranscriber
from tests.audio import silence

MEETINGS = ("launch-planning", "incident-review")
# The encoder's training length: 1.6 s of 10 ms frames.
WINDOW_FRAMES = 160


def true_turns(corpus: Path, meeting: str) -> list[SpeakerTurn]:
    timeline = json.loads((corpus / "voices" / f"{meeting}.timeline.json").read_text())
    return [SpeakerTurn(turn["start"], turn["end"], turn["speaker"]) for turn in timeline]


@pytest.fixture(scope="module")
def diarizer() -> VoiceDiarizer:
    return VoiceDiarizer()


@pytest.fixture(scope="module")
def diarized(corpus: Path, diarizer: VoiceDiarizer) -> dict[str, tuple[SpeakerTurn, ...]]:
    return {
        meeting: diarizer.diarize(corpus / "voices" / f"{meeting}.flac") for meeting in MEETINGS
    }


def voice_windows(corpus: Path, meeting: str, speaker: str, count: int) -> np.ndarray:
    """`count` windows of the mel frames from the middle of `speaker`'s longest turn."""
    audio = decode_audio(str(corpus / "voices" / f"{meeting}.flac"), sampling_rate=SAMPLE_RATE)
    frames = mel_frames(audio)
    turn = max(
        (t for t in true_turns(corpus, meeting) if t.speaker == speaker),
        key=lambda t: t.end - t.start,
    )
    first = round(turn.start * 100) + 50  # past the turn's first half second
    assert first + count * WINDOW_FRAMES <= round(turn.end * 100)
    return np.stack(
        [frames[first + k * WINDOW_FRAMES : first + (k + 1) * WINDOW_FRAMES] for k in range(count)]
    )


class TestVoiceEncoder:
    def test_voice_prints_are_unit_length_256_numbers_and_repeatable(self, corpus: Path) -> None:
        windows = voice_windows(corpus, "launch-planning", "Alice Chen", 3)
        encoder = VoiceEncoder.pretrained()

        prints = encoder.embed(windows)

        assert prints.shape == (3, EMBEDDING_SIZE)
        np.testing.assert_allclose(np.linalg.norm(prints, axis=1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(encoder.embed(windows), prints)

    def test_two_voices_are_further_apart_than_one_voice_with_itself(self, corpus: Path) -> None:
        encoder = VoiceEncoder.pretrained()
        alice = encoder.embed(voice_windows(corpus, "launch-planning", "Alice Chen", 2))
        bob = encoder.embed(voice_windows(corpus, "launch-planning", "Bob Martinez", 1))

        same_voice = float(alice[0] @ alice[1])
        other_voice = max(float(alice[0] @ bob[0]), float(alice[1] @ bob[0]))

        assert same_voice > other_voice + 0.1

    def test_weights_that_would_run_code_are_refused(self, tmp_path: Path) -> None:
        class Payload:
            def __reduce__(self) -> tuple[object, tuple[str]]:
                return (print, ("ran",))

        weights = tmp_path / "pretrained.pt"
        weights.write_bytes(pickle.dumps(Payload()))

        with pytest.raises(pickle.UnpicklingError, match=r"builtins\.print"):
            load_state(weights)


class TestVoiceDiarizer:
    @pytest.mark.parametrize("meeting", MEETINGS)
    def test_turns_give_each_voice_one_label(
        self, corpus: Path, meeting: str, diarized: dict[str, tuple[SpeakerTurn, ...]]
    ) -> None:
        truth = true_turns(corpus, meeting)
        turns = diarized[meeting]

        result = score(truth, turns)

        assert len({turn.speaker for turn in turns}) == len({turn.speaker for turn in truth})
        assert result.confusion / result.speech < 0.05
        assert result.error_rate < 0.15

    @pytest.mark.parametrize("meeting", MEETINGS)
    def test_transcript_segment_time_goes_to_the_right_person(
        self, corpus: Path, meeting: str, diarized: dict[str, tuple[SpeakerTurn, ...]]
    ) -> None:
        transcript = LocalWhisperTranscriber().transcribe(corpus / "voices" / f"{meeting}.flac")

        labelled = assign_speakers(transcript, diarized[meeting])

        segments = [
            SpeakerTurn(segment.start, segment.end, segment.speaker or "")
            for segment in labelled.segments
        ]
        result = score(true_turns(corpus, meeting), segments)
        assert result.attributed >= 0.9

    def test_one_voice_is_one_speaker(self, corpus: Path, diarizer: VoiceDiarizer) -> None:
        turns = diarizer.diarize(corpus / "speech" / "jfk.flac")

        assert turns
        assert {turn.speaker for turn in turns} == {"Speaker 1"}

    def test_known_participants_bound_the_number_of_voices(
        self, corpus: Path, diarizer: VoiceDiarizer
    ) -> None:
        turns = diarizer.diarize(corpus / "voices" / "incident-review.flac", max_speakers=2)

        assert {turn.speaker for turn in turns} == {"Speaker 1", "Speaker 2"}

    @pytest.mark.parametrize("before_the_cut", [2.0, 3.5, 9.0])
    def test_speech_across_the_vads_pieces_is_heard_as_over_the_whole(
        self, corpus: Path, before_the_cut: float
    ) -> None:
        # The JFK clip (11 s) laid over the cut between the VAD's first two pieces.
        speech = decode_audio(str(corpus / "speech" / "jfk.flac"))
        audio = np.zeros((_VAD_PIECE_S + 20) * SAMPLE_RATE, dtype=np.float32)
        at = round((_VAD_PIECE_S - before_the_cut) * SAMPLE_RATE)
        audio[at : at + len(speech)] = speech
        options = VadOptions(min_silence_duration_ms=_MIN_PAUSE_MS, speech_pad_ms=_SPEECH_PAD_MS)
        whole = [
            (span["start"] // FRAME_SAMPLES, span["end"] // FRAME_SAMPLES)
            for span in get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)
        ]

        pieced = _speech_spans(audio)

        def heard(spans: list[tuple[int, int]], lo: int, hi: int) -> int:
            return sum(max(0, min(end, hi) - max(start, lo)) for start, end in spans)

        # Nothing the whole run hears is lost (a tenth of a second of slack at each span's
        # edges, where the VAD's state differs after the cut) ...
        for start, end in whole:
            assert heard(pieced, start, end) >= end - start - 20
        # ... nor more than a second added (noise heard as speech while its state settles),
        # and no span ends at the cut: speech the cut split is one span.
        frames = len(audio) // FRAME_SAMPLES
        assert heard(pieced, 0, frames) - heard(whole, 0, frames) <= 100
        cut = _VAD_PIECE_S * SAMPLE_RATE // FRAME_SAMPLES
        assert not [end for _, end in pieced if abs(end - cut) <= 1]

    def test_silence_has_no_turns(self, tmp_path: Path, diarizer: VoiceDiarizer) -> None:
        assert diarizer.diarize(silence(tmp_path / "quiet.wav", 5.0)) == ()

    def test_a_file_that_is_not_audio_is_refused(
        self, tmp_path: Path, diarizer: VoiceDiarizer
    ) -> None:
        notes = tmp_path / "notes.wav"
        notes.write_text("not audio at all")

        with pytest.raises(UnreadableMediaError, match=r"notes\.wav"):
            diarizer.diarize(notes)


class TestScore:
    def test_labels_are_matched_to_people_the_way_that_agrees_most(self) -> None:
        truth = [SpeakerTurn(0.0, 4.0, "Ann"), SpeakerTurn(4.0, 10.0, "Ben")]
        # "x" is mostly Ben, "y" all Ann; one second of Ben went to "y", one is missed,
        # half a second labelled after everyone stopped.
        guess = [
            SpeakerTurn(0.0, 4.0, "y"),
            SpeakerTurn(4.0, 5.0, "y"),
            SpeakerTurn(5.0, 9.0, "x"),
            SpeakerTurn(10.0, 10.5, "x"),
        ]

        result = score(truth, guess)

        assert result == DiarizationScore(speech=10.0, missed=1.0, false_alarm=0.5, confusion=1.0)
        assert result.error_rate == pytest.approx(0.25)
        assert result.attributed == pytest.approx(8.0 / 9.0)
