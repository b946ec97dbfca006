"""Speaker timelines as platforms and diarization tools write them."""

from __future__ import annotations

import pytest

from integrations.diarization.base import NamedTurn
from integrations.diarization.timeline import (
    MalformedTimelineError,
    name_from_timeline,
    parse_timeline,
)
from integrations.transcription.base import TranscribedSegment, Transcript, Word


class TestParseTimeline:
    def test_json_turns_in_time_order(self) -> None:
        text = (
            '[{"name": "Bo  Chen", "start": 4, "end": 6.5},'
            ' {"name": "Ann Lee", "email": "ann@example.com", "start": 0, "end": 4}]'
        )

        assert parse_timeline(text) == (
            NamedTurn(0.0, 4.0, "Ann Lee", "ann@example.com"),
            NamedTurn(4.0, 6.5, "Bo Chen"),
        )

    def test_rttm(self) -> None:
        text = (
            ";; written by a diarization tool\n"
            "SPEAKER standup 1 0.00 4.00 <NA> <NA> ann <NA> <NA>\n"
            "\n"
            "SPEAKER standup 1 4.00 2.50 <NA> <NA> bo <NA> <NA>\n"
        )

        assert parse_timeline(text) == (NamedTurn(0.0, 4.0, "ann"), NamedTurn(4.0, 6.5, "bo"))

    @pytest.mark.parametrize(
        ("text", "says"),
        [
            ('[{"name": "Ann", "start": true, "end": 2}]', "turn 1: 'start' must be a number"),
            ('[{"name": "Ann", "start": -1, "end": 2}]', "not negative"),
            ('[{"start": 0, "end": 2}]', "'name' must be a non-empty string"),
            ("SPEAKER standup 1 0.0", "line 1: expected JSON turns or RTTM"),
            ("hello", "line 1: expected JSON turns or RTTM"),
            ("", "no turns"),
        ],
    )
    def test_what_is_refused(self, text: str, says: str) -> None:
        with pytest.raises(MalformedTimelineError, match=says):
            parse_timeline(text)


class TestNameFromTimeline:
    def test_words_take_the_name_of_their_turn_and_segments_split_between_names(self) -> None:
        words = (Word("Ready?", 0.2, 0.8), Word("Yes.", 1.4, 1.8), Word("Go.", 2.0, 2.3))
        transcript = Transcript(
            segments=(TranscribedSegment(0.0, 2.4, "Ready? Yes. Go.", words=words),),
            language="en",
            duration=2.4,
            provider="local",
        )
        timeline = [NamedTurn(0.0, 1.0, "Ann Lee"), NamedTurn(1.0, 3.0, "Bo Chen")]

        named = name_from_timeline(transcript, timeline)

        assert [(s.speaker, s.text) for s in named.segments] == [
            ("Ann Lee", "Ready?"),
            ("Bo Chen", "Yes. Go."),
        ]
