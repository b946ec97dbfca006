"""LocalWhisperTranscriber against the real bundled model and our recorded corpus."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import av
import jiwer
import numpy as np
import pytest
from faster_whisper import decode_audio
from whisper_normalizer.english import EnglishTextNormalizer

from integrations.transcription.base import NoSpeechError, Transcript, UnreadableMediaError
from integrations.transcription.local import LocalWhisperTranscriber, build_prompt
from tests.audio import SAMPLE_RATE, silence

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
MEETINGS = ("launch-planning", "incident-review")
MAX_WER = 0.15


@dataclass(frozen=True)
class Recording:
    path: Path
    text: str
    title: str | None = None
    names: tuple[str, ...] = ()


def word_error_rate(reference: str, transcript: Transcript) -> float:
    normalize = EnglishTextNormalizer()
    hypothesis = " ".join(segment.text for segment in transcript.segments)
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


@pytest.fixture(scope="module")
def transcriber() -> LocalWhisperTranscriber:
    return LocalWhisperTranscriber()


@pytest.fixture(scope="module")
def recordings(corpus: Path) -> dict[str, Recording]:
    cases = {"jfk": Recording(corpus / "speech" / "jfk.flac", JFK_TEXT)}
    for name in MEETINGS:
        script = json.loads((corpus / "scripted" / f"{name}.json").read_text())
        names = tuple(participant["name"] for participant in script["participants"])
        cases[name] = Recording(
            path=corpus / "scripted" / f"{name}.wav",
            text=" ".join(turn["text"] for turn in script["turns"]),
            title=script["title"],
            names=names,
        )
    return cases


@pytest.fixture(scope="module")
def transcripts(
    transcriber: LocalWhisperTranscriber, recordings: dict[str, Recording]
) -> dict[str, Transcript]:
    # Each recording is transcribed once for the module: the tests only read the results.
    return {
        name: transcriber.transcribe(
            recording.path, title=recording.title, participants=recording.names
        )
        for name, recording in recordings.items()
    }


class TestBuildPrompt:
    def test_title_and_names(self) -> None:
        prompt = build_prompt("Mobile app launch planning", ["Alice Chen", "Bob Martinez"])
        assert prompt == "Mobile app launch planning. Alice Chen, Bob Martinez."

    def test_names_only(self) -> None:
        assert build_prompt(None, ["Alice Chen"]) == "Alice Chen."

    def test_nothing_to_say(self) -> None:
        assert build_prompt("  ", ["", " "]) is None


class TestLocalWhisperTranscriber:
    @pytest.mark.parametrize("name", ["jfk", *MEETINGS])
    def test_word_error_rate(
        self, name: str, transcripts: dict[str, Transcript], recordings: dict[str, Recording]
    ) -> None:
        assert word_error_rate(recordings[name].text, transcripts[name]) <= MAX_WER

    @pytest.mark.parametrize("name", ["jfk", *MEETINGS])
    def test_segments_are_ordered_and_do_not_overlap(
        self, name: str, transcripts: dict[str, Transcript]
    ) -> None:
        segments = transcripts[name].segments
        assert segments
        for segment in segments:
            assert segment.text == segment.text.strip() != ""
            assert 0.0 <= segment.start <= segment.end <= transcripts[name].duration
            # Builtin floats, not numpy scalars, so the database and JSON take them as they are.
            assert type(segment.start) is type(segment.end) is float
        for before, after in itertools.pairwise(segments):
            assert before.end <= after.start

    @pytest.mark.parametrize("name", ["jfk", *MEETINGS])
    def test_words_lie_inside_their_segment(
        self, name: str, transcripts: dict[str, Transcript]
    ) -> None:
        for segment in transcripts[name].segments:
            assert segment.words
            for word in segment.words:
                assert word.text == word.text.strip() != ""
                assert segment.start <= word.start <= word.end <= segment.end

    @pytest.mark.parametrize("name", MEETINGS)
    def test_prompted_names_are_spelled_right(
        self, name: str, transcripts: dict[str, Transcript], recordings: dict[str, Recording]
    ) -> None:
        recording = recordings[name]
        said = {full.split()[0] for full in recording.names} & set(
            re.findall(r"[A-Z][a-z]+", recording.text)
        )
        heard = set(
            re.findall(r"[A-Z][a-z]+", " ".join(s.text for s in transcripts[name].segments))
        )
        assert said, "the script should address someone by name"
        assert said <= heard

    def test_describes_the_transcript(self, transcripts: dict[str, Transcript]) -> None:
        transcript = transcripts["jfk"]
        assert transcript.provider == "local"
        assert transcript.model == "tiny.en"
        assert transcript.language == "en"
        assert transcript.duration == pytest.approx(11.0, abs=0.01)

    def test_model_is_loaded_once(self, transcriber: LocalWhisperTranscriber) -> None:
        assert LocalWhisperTranscriber().whisper_model is transcriber.whisper_model

    def test_decodes_mp3(
        self, tmp_path: Path, transcriber: LocalWhisperTranscriber, corpus: Path
    ) -> None:
        samples = decode_audio(str(corpus / "speech" / "jfk.flac"), sampling_rate=SAMPLE_RATE)
        mp3 = tmp_path / "jfk.mp3"
        with av.open(str(mp3), "w") as container:
            stream = container.add_stream("libmp3lame", rate=SAMPLE_RATE, layout="mono")
            frame = av.AudioFrame.from_ndarray(
                (samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
            )
            frame.sample_rate = SAMPLE_RATE
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)

        transcript = transcriber.transcribe(mp3)

        assert word_error_rate(JFK_TEXT, transcript) <= MAX_WER

    def test_text_file_is_unreadable(
        self, tmp_path: Path, transcriber: LocalWhisperTranscriber
    ) -> None:
        path = tmp_path / "notes.wav"
        path.write_text("Agenda: launch date, beta feedback, budget.\n")

        with pytest.raises(UnreadableMediaError, match=r"^notes\.wav: "):
            transcriber.transcribe(path)

    def test_random_bytes_are_unreadable(
        self, tmp_path: Path, transcriber: LocalWhisperTranscriber
    ) -> None:
        path = tmp_path / "noise.m4a"
        path.write_bytes(np.random.default_rng(7).bytes(4096))

        with pytest.raises(UnreadableMediaError, match=r"^noise\.m4a: "):
            transcriber.transcribe(path)

    def test_truncated_header_is_unreadable(
        self, tmp_path: Path, transcriber: LocalWhisperTranscriber, corpus: Path
    ) -> None:
        path = tmp_path / "cut.wav"
        path.write_bytes((corpus / "speech" / "stereo_diarization.wav").read_bytes()[:30])

        with pytest.raises(UnreadableMediaError):
            transcriber.transcribe(path)

    def test_zero_length_audio_has_no_speech(
        self, tmp_path: Path, transcriber: LocalWhisperTranscriber
    ) -> None:
        path = silence(tmp_path / "empty.wav", 0)

        with pytest.raises(NoSpeechError, match=r"^empty\.wav: no speech found$"):
            transcriber.transcribe(path)

    def test_silence_has_no_speech(
        self, tmp_path: Path, transcriber: LocalWhisperTranscriber
    ) -> None:
        path = silence(tmp_path / "silence.wav", 3)

        with pytest.raises(NoSpeechError, match=r"^silence\.wav: no speech found$"):
            transcriber.transcribe(path)

    def test_missing_file_is_left_to_the_caller(
        self, tmp_path: Path, transcriber: LocalWhisperTranscriber
    ) -> None:
        with pytest.raises(FileNotFoundError):
            transcriber.transcribe(tmp_path / "gone.wav")
