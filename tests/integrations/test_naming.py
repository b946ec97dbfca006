"""Naming anonymous voices from what the meeting says."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from integrations.diarization.naming import name_speakers, name_transcript
from integrations.diarization.speakers import assign_speakers
from integrations.diarization.voice import VoiceDiarizer
from integrations.synthesis.base import Attendee
from integrations.transcription.base import TranscribedSegment, Transcript
from integrations.transcription.local import LocalWhisperTranscriber

TEAM = [
    Attendee("Maria Lopez", "maria@example.net", is_organizer=True),
    Attendee("Kenji Watanabe", "kenji@example.net"),
    Attendee("Sofia Rossi", "sofia@example.net"),
]


def said(*lines: tuple[str, str]) -> list[TranscribedSegment]:
    return [
        TranscribedSegment(float(k), float(k) + 1, text, speaker)
        for k, (speaker, text) in enumerate(lines)
    ]


class TestNameSpeakers:
    def test_self_introductions_name_the_voice_that_says_them(self) -> None:
        named = name_speakers(
            said(
                ("Speaker 1", "Morning all, I'm Maria and I'll keep us on time."),
                ("SPEAKER_02", "Hi, this is Kenji from platform."),
                ("Speaker 1", "Great, let's start."),
            ),
            TEAM,
        )
        assert named["Speaker 1"].name == "Maria Lopez"
        assert named["Speaker 1"].email == "maria@example.net"
        assert named["SPEAKER_02"].name == "Kenji Watanabe"
        assert named["SPEAKER_02"].confidence > 0.9

    def test_a_name_called_is_the_voice_that_answers(self) -> None:
        named = name_speakers(
            said(
                ("Speaker 1", "The release notes are still open. Kenji, can you take it?"),
                ("Speaker 2", "Sure, I'll write them tonight."),
                ("Speaker 3", "I can review them tomorrow."),
            ),
            TEAM,
        )
        assert named["Speaker 2"].name == "Kenji Watanabe"
        assert "Speaker 1" not in named or named["Speaker 1"].name != "Kenji Watanabe"

    def test_thanks_name_the_voice_that_spoke_before(self) -> None:
        named = name_speakers(
            said(
                ("Speaker 2", "The dashboard is fixed and deployed."),
                ("Speaker 1", "Thanks, Sofia. That was quick."),
            ),
            TEAM,
        )
        assert named["Speaker 2"].name == "Sofia Rossi"

    def test_a_single_weak_hint_names_nobody(self) -> None:
        # The organizer speaking first is not enough alone.
        named = name_speakers(
            said(("Speaker 1", "Let's begin."), ("Speaker 2", "Sounds good.")), TEAM
        )
        assert named == {}

    def test_a_person_goes_to_one_voice_only(self) -> None:
        named = name_speakers(
            said(
                ("Speaker 1", "Sofia, any news?"),
                ("Speaker 2", "Yes, the build is green."),
                ("Speaker 1", "Sofia, and the tests?"),
                ("Speaker 3", "They pass."),
            ),
            TEAM,
        )
        assert [label for label, naming in named.items() if naming.name == "Sofia Rossi"] == [
            "Speaker 2"
        ] or "Sofia Rossi" not in {naming.name for naming in named.values()}

    def test_a_voice_that_calls_a_name_is_not_that_person(self) -> None:
        named = name_speakers(
            said(
                ("Speaker 1", "Hi, I'm Sofia."),
                ("Speaker 1", "Kenji, what do you think?"),
                ("Speaker 2", "I agree with the plan."),
            ),
            TEAM,
        )
        assert named["Speaker 1"].name == "Sofia Rossi"
        assert named["Speaker 2"].name == "Kenji Watanabe"

    def test_an_introduction_names_someone_on_no_list(self) -> None:
        named = name_speakers(
            said(("Speaker 1", "Hello everyone, my name is Amara Osei, I run the data team.")), []
        )
        assert named["Speaker 1"].name == "Amara Osei"
        assert named["Speaker 1"].email is None

    def test_words_that_are_no_name_name_nobody(self) -> None:
        named = name_speakers(
            said(
                ("Speaker 1", "I'm sure this is Thursday's problem. I am Happy to help."),
                ("Speaker 2", "Okay, great."),
            ),
            TEAM,
        )
        assert named == {}

    def test_voices_named_already_keep_their_names_and_their_people(self) -> None:
        named = name_speakers(
            said(
                ("Maria Lopez", "Kenji, can you take it?"),
                ("Speaker 2", "Sure, I'll do it."),
                ("Speaker 3", "Hi, I'm Maria, from the other Maria's team."),
            ),
            TEAM,
        )
        assert "Maria Lopez" not in named
        assert named["Speaker 2"].name == "Kenji Watanabe"
        # Two voices left for two people, one named: the other is the one left.
        assert named["Speaker 3"].name == "Sofia Rossi"

    def test_name_transcript_puts_the_names_on_the_segments(self) -> None:
        transcript = Transcript(
            segments=tuple(
                said(
                    ("Speaker 1", "Sofia, where are we with the dashboard?"),
                    ("Speaker 2", "It ships today."),
                    ("Speaker 3", "Nice."),
                )
            ),
            language="en",
            duration=3.0,
            provider="local",
        )

        named = name_transcript(transcript, TEAM)

        assert [segment.speaker for segment in named.segments] == [
            "Speaker 1",
            "Sofia Rossi",
            "Speaker 3",
        ]
        assert [segment.text for segment in named.segments] == [
            segment.text for segment in transcript.segments
        ]

    @pytest.mark.parametrize("meeting", ["launch-planning", "incident-review"])
    def test_a_scripted_meeting_with_its_participants_is_named_right(
        self, corpus: Path, meeting: str
    ) -> None:
        script = json.loads((corpus / "scripted" / f"{meeting}.json").read_text())
        labels: dict[str, str] = {}
        segments = []
        for start, turn in enumerate(script["turns"]):
            label = labels.setdefault(turn["speaker"], f"Speaker {len(labels) + 1}")
            segments.append(TranscribedSegment(float(start), start + 1.0, turn["text"], label))
        attendees = [
            Attendee(p["name"], p.get("email"), p.get("organizer", False))
            for p in script["participants"]
        ]

        named = name_speakers(segments, attendees)

        truth = {label: name for name, label in labels.items()}
        right = [label for label, naming in named.items() if naming.name == truth[label]]
        assert right == list(named), "every naming applied is right"
        assert len(right) / len(labels) >= 0.6


class TestNamingARecording:
    def test_a_diarized_recording_with_its_participants_is_named_right(self, corpus: Path) -> None:
        # Whisper's words (tiny.en mishears festival voices about one word in four) on the
        # voices the diarizer tells apart: the names must survive both.
        meeting = "incident-review"
        script = json.loads((corpus / "scripted" / f"{meeting}.json").read_text())
        timeline = json.loads((corpus / "voices" / f"{meeting}.timeline.json").read_text())
        attendees = [
            Attendee(p["name"], p.get("email"), p.get("organizer", False))
            for p in script["participants"]
        ]
        recording = corpus / "voices" / f"{meeting}.flac"
        turns = VoiceDiarizer().diarize(recording, max_speakers=len(attendees))
        transcript = assign_speakers(
            LocalWhisperTranscriber().transcribe(
                recording, participants=[a.name for a in attendees]
            ),
            turns,
        )

        named = name_speakers(transcript.segments, attendees)

        # Who each label is: the person the true timeline has speaking most of its time.
        heard: dict[str, Counter[str]] = defaultdict(Counter)
        for segment in transcript.segments:
            assert segment.speaker is not None
            for turn in timeline:
                overlap = min(segment.end, turn["end"]) - max(segment.start, turn["start"])
                heard[segment.speaker][turn["speaker"]] += max(overlap, 0.0)
        right = [
            label
            for label, naming in named.items()
            if heard[label].most_common(1)[0][0] == naming.name
        ]
        assert right == list(named), "every naming applied is right"
        assert len(right) / len(attendees) >= 0.6
