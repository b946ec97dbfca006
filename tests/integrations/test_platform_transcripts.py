from __future__ import annotations

from pathlib import Path

import pytest

from integrations.transcription.base import MalformedTranscriptError, TranscribedSegment, Word
from integrations.transcription.platform import is_transcript_file, parse_transcript_file

DATA = Path(__file__).parent / "data"


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        # newline="" so the file holds exactly the line endings the test wrote.
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


class TestIsTranscriptFile:
    @pytest.mark.parametrize("name", ["a.vtt", "a.srt", "a.json", "Meeting.VTT", "x.Srt"])
    def test_transcript_suffixes(self, name: str) -> None:
        assert is_transcript_file(Path(name))

    @pytest.mark.parametrize("name", ["a.mp4", "a.txt", "vtt", "a.vtt.bak"])
    def test_other_files(self, name: str) -> None:
        assert not is_transcript_file(Path(name))


class TestParseTranscriptFile:
    def test_teams_vtt_voice_tags_give_speakers(self) -> None:
        transcript = parse_transcript_file(DATA / "teams_meeting.vtt")

        assert [s.speaker for s in transcript.segments] == [
            "Alice Chen",
            "Bob Okafor",
            "Alice Chen",
            "Carol Diaz",
        ]
        assert transcript.provider == "platform:vtt"
        assert transcript.language == "en"
        assert transcript.model is None

    def test_teams_vtt_times_ignore_cue_settings(self) -> None:
        transcript = parse_transcript_file(DATA / "teams_meeting.vtt")

        assert [(s.start, s.end) for s in transcript.segments] == [
            (0.0, 3.45),
            (3.45, 7.12),
            (7.5, 62.25),
            (3600.0, 3601.5),
        ]
        assert transcript.duration == 3601.5

    def test_teams_vtt_tags_and_entities_stripped_and_lines_joined(self) -> None:
        texts = [s.text for s in parse_transcript_file(DATA / "teams_meeting.vtt").segments]

        assert texts == [
            "Good morning, everyone. Thanks for joining.",
            "Morning! Quick update on Q3 & the roadmap first.",
            "Sure, go ahead <3",
            "Let's wrap up.",
        ]

    def test_vtt_note_and_style_blocks_skipped(self) -> None:
        texts = " ".join(s.text for s in parse_transcript_file(DATA / "teams_meeting.vtt").segments)

        assert "Exported" not in texts
        assert "::cue" not in texts

    def test_zoom_vtt_name_prefix_gives_speaker(self) -> None:
        segments = parse_transcript_file(DATA / "zoom_meeting.vtt").segments

        assert [(s.speaker, s.text) for s in segments] == [
            ("Alice Chen", "Let's get started with the budget."),
            ("Bob Okafor", "I shared the deck this morning."),
            (None, "Action items are in the doc: see the link."),
            ("Mary-Jane O'Neil", "Thanks, both."),
        ]

    def test_vtt_hours_optional(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "m.vtt", "WEBVTT\n\n00:01.250 --> 01:02.000\nHi\n")

        (segment,) = parse_transcript_file(path).segments

        assert (segment.start, segment.end) == (1.25, 62.0)

    def test_vtt_segments_ordered_by_start_and_kept_separate(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "m.vtt",
            "WEBVTT\n\n00:05.000 --> 00:06.000\nlater\n\n"
            "00:01.000 --> 00:02.000\nfirst\n\n00:02.000 --> 00:03.000\nsecond\n",
        )

        assert [s.text for s in parse_transcript_file(path).segments] == [
            "first",
            "second",
            "later",
        ]

    def test_vtt_bom_crlf_and_header_language(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "m.vtt",
            "\ufeffWEBVTT - exported\r\nKind: captions\r\nLanguage: fr\r\n\r\n"
            "00:00:01.000 --> 00:00:02.000\r\nBonjour\r\n",
        )

        transcript = parse_transcript_file(path)

        assert transcript.language == "fr"
        assert transcript.segments == (TranscribedSegment(1.0, 2.0, "Bonjour"),)

    def test_srt_speakers_from_name_and_bracket_prefixes(self) -> None:
        transcript = parse_transcript_file(DATA / "meeting.srt")

        assert [(s.speaker, s.text) for s in transcript.segments] == [
            ("Alice Chen", "Welcome back, everyone."),
            ("Bob Okafor", "Thanks. I have two updates."),
            (None, "The first is about hiring, the second about the budget."),
            ("Carol Diaz", "Noted."),
        ]
        assert transcript.provider == "platform:srt"

    def test_srt_times(self) -> None:
        transcript = parse_transcript_file(DATA / "meeting.srt")

        assert [(s.start, s.end) for s in transcript.segments] == [
            (0.5, 3.0),
            (3.0, 6.25),
            (6.25, 9.0),
            (3723.004, 3725.0),
        ]
        assert transcript.duration == 3725.0

    def test_srt_crlf(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "m.srt", "1\r\n00:00:01,000 --> 00:00:02,500\r\nHi there\r\n")

        assert parse_transcript_file(path).segments == (TranscribedSegment(1.0, 2.5, "Hi there"),)

    def test_json_list_sorted_normalized_and_empty_dropped(self) -> None:
        transcript = parse_transcript_file(DATA / "meeting_segments.json")

        assert transcript.segments == (
            TranscribedSegment(0.0, 4.5, "Let's get started.", "Alice Chen"),
            TranscribedSegment(4.5, 9.0, "I shared the deck this morning.", "Bob Okafor"),
            TranscribedSegment(9.0, 10.25, "Sounds good."),
        )
        assert (transcript.provider, transcript.language) == ("platform:json", "en")
        assert transcript.duration == 10.25

    def test_json_object_with_language_and_words(self) -> None:
        transcript = parse_transcript_file(DATA / "meeting_transcript.json")

        assert transcript.language == "de"
        assert transcript.segments == (
            TranscribedSegment(
                0.0,
                1.2,
                "Guten Morgen",
                "Alice Chen",
                (Word("Guten", 0.0, 0.5, 0.98), Word("Morgen", 0.5, 1.2)),
            ),
            TranscribedSegment(1.2, 2.0, "Hallo"),
        )

    @pytest.mark.parametrize(
        ("name", "content", "expected"),
        [
            pytest.param("m.vtt", "", "m.vtt: file is empty", id="empty"),
            pytest.param("m.srt", " \n\n \n", "m.srt: file is empty", id="blank"),
            pytest.param(
                "m.vtt",
                b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8garbage",
                "m.vtt: not UTF-8 text",
                id="binary-garbage",
            ),
            pytest.param(
                "m.vtt",
                "00:00:01.000 --> 00:00:02.000\nHi\n",
                "m.vtt: line 1: expected the 'WEBVTT' header, got '00:00:01.000 --> 00:00:02.000'",
                id="vtt-no-header",
            ),
            pytest.param(
                "m.vtt",
                "WEBVTT\n\n1\n00:00:01.000 --> 00:00:0x.000\nHi\n",
                "m.vtt: line 4: bad timestamp '00:00:0x.000'",
                id="vtt-bad-timestamp",
            ),
            pytest.param(
                "m.vtt",
                "WEBVTT\n\n00:00:01.000 --> -00:00:02.000\nHi\n",
                "m.vtt: line 3: bad timestamp '-00:00:02.000'",
                id="vtt-negative-time",
            ),
            pytest.param(
                "m.vtt",
                "WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nHi\n",
                "m.vtt: line 3: cue ends before it starts '00:00:05.000 --> 00:00:02.000'",
                id="vtt-end-before-start",
            ),
            pytest.param(
                "m.vtt",
                "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n\njust some text\n",
                "m.vtt: line 6: cue has no 'start --> end' timing line",
                id="vtt-block-without-timing",
            ),
            pytest.param(
                "m.vtt", "WEBVTT\n\nNOTE nothing\n", "m.vtt: has no segments", id="vtt-no-cues"
            ),
            pytest.param(
                "m.vtt",
                "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Bob></v>\n",
                "m.vtt: has no segments",
                id="vtt-only-empty-cues",
            ),
            pytest.param(
                "m.srt",
                "1\n00:00:01.000 --> 00:00:02.000\nHi\n",
                "m.srt: line 2: bad timestamp '00:00:01.000'",
                id="srt-vtt-style-timestamp",
            ),
            pytest.param(
                "m.srt",
                "1\n00:00:03,000 --> 00:00:02,000\nHi\n",
                "m.srt: line 2: cue ends before it starts",
                id="srt-end-before-start",
            ),
            pytest.param(
                "m.json",
                '{"segments": [',
                "m.json: not valid JSON: Expecting value at line 1 column 15",
                id="json-invalid",
            ),
            pytest.param(
                "m.json",
                '{"text": "hi"}',
                "m.json: expected a list of segments or an object with a 'segments' list, got null",
                id="json-object-without-segments",
            ),
            pytest.param(
                "m.json",
                '"hello"',
                "m.json: expected a list of segments or an object with a 'segments' list, "
                "got string",
                id="json-wrong-shape",
            ),
            pytest.param(
                "m.json",
                '[["hi", 0, 1]]',
                "m.json: segments[0]: expected an object, got array",
                id="json-segment-not-object",
            ),
            pytest.param(
                "m.json",
                '[{"start": true, "end": 1, "text": "hi"}]',
                "m.json: segments[0]: 'start' must be a number, got boolean",
                id="json-bool-start",
            ),
            pytest.param(
                "m.json",
                '[{"start": "0.5", "end": 1, "text": "hi"}]',
                "m.json: segments[0]: 'start' must be a number, got string",
                id="json-string-start",
            ),
            pytest.param(
                "m.json",
                '[{"start": 0, "text": "hi"}]',
                "m.json: segments[0]: 'end' must be a number, got null",
                id="json-missing-end",
            ),
            pytest.param(
                "m.json",
                '[{"start": -1, "end": 1, "text": "hi"}]',
                "m.json: segments[0]: 'start' is negative (-1.0)",
                id="json-negative-start",
            ),
            pytest.param(
                "m.json",
                '[{"start": 0, "end": NaN, "text": "hi"}]',
                "m.json: segments[0]: 'end' is not a finite number",
                id="json-nan",
            ),
            pytest.param(
                "m.json",
                '[{"start": 0, "end": 1' + "0" * 400 + ', "text": "hi"}]',
                "m.json: segments[0]: 'end' is not a finite number",
                id="json-int-too-big-for-float",
            ),
            pytest.param(
                "m.json",
                '[{"start": 2, "end": 1, "text": "hi"}]',
                "m.json: segments[0]: ends before it starts (start 2.0, end 1.0)",
                id="json-end-before-start",
            ),
            pytest.param(
                "m.json",
                '[{"start": 0, "end": 1, "text": 5}]',
                "m.json: segments[0]: 'text' must be a string, got number",
                id="json-text-not-string",
            ),
            pytest.param(
                "m.json",
                '[{"start": 0, "end": 1, "text": "hi", "speaker": 3}]',
                "m.json: segments[0]: 'speaker' must be a string or null, got number",
                id="json-speaker-not-string",
            ),
            pytest.param(
                "m.json",
                '[{"start": 0, "end": 1, "text": "hi", "words": [{"word": "hi", "start": 0}]}]',
                "m.json: segments[0].words[0]: 'end' must be a number, got null",
                id="json-word-missing-end",
            ),
            pytest.param(
                "m.json",
                '[{"start": 0, "end": 1, "text": "hi",'
                ' "words": [{"word": "hi", "start": 0, "end": 1, "probability": 1.5}]}]',
                "m.json: segments[0].words[0]: 'probability' is over 1 (1.5)",
                id="json-probability-over-one",
            ),
            pytest.param(
                "m.json",
                '{"language": "", "segments": []}',
                "m.json: 'language' must be a non-empty string",
                id="json-empty-language",
            ),
            pytest.param("m.json", "[]", "m.json: has no segments", id="json-no-segments"),
            pytest.param("m.json", "[" * 100_000, "m.json: not valid JSON: ", id="json-too-deep"),
            pytest.param(
                "m.txt",
                "hello",
                "m.txt: not a transcript file (expected .json, .srt or .vtt)",
                id="unknown-suffix",
            ),
        ],
    )
    def test_malformed_input_raises_one_line_error(
        self, tmp_path: Path, name: str, content: str | bytes, expected: str
    ) -> None:
        path = _write(tmp_path, name, content)

        with pytest.raises(MalformedTranscriptError) as raised:
            parse_transcript_file(path)

        message = str(raised.value)
        assert message.startswith(expected)
        assert "\n" not in message
