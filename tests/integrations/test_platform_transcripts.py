from __future__ import annotations

import codecs
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from integrations.diarization.base import NamedTurn
from integrations.transcription.base import (
    MalformedTranscriptError,
    TranscribedSegment,
    Transcript,
    Word,
)
from integrations.transcription.platform import (
    PlatformTranscripts,
    is_transcript_file,
    parse_transcript_file,
    write_srt,
    write_vtt,
)
from tests.audio import silence

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
    @pytest.mark.parametrize("name", ["a.vtt", "a.srt", "a.json", "a.txt", "Meeting.VTT", "x.Srt"])
    def test_transcript_suffixes(self, name: str) -> None:
        assert is_transcript_file(Path(name))

    @pytest.mark.parametrize("name", ["a.mp4", "vtt", "a.vtt.bak"])
    def test_other_files(self, name: str) -> None:
        assert not is_transcript_file(Path(name))

    @pytest.mark.parametrize(
        ("name", "content"),
        [
            pytest.param("recording", "WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n", id="vtt"),
            pytest.param("captions.dat", "1\n00:00:01,000 --> 00:00:02,000\nHi\n", id="srt"),
            pytest.param("export", '[{"start": 0, "end": 1, "text": "hi"}]', id="json"),
            pytest.param("zoom", "[Jane Doe] 10:01:02\nHello\n", id="zoom-saved"),
            pytest.param("zoom-old", "10:01:02 Jane Doe: Hello\n", id="zoom-inline"),
            pytest.param(
                "teams.vtt.bak",
                "\ufeffWEBVTT\n\n00:01.000 --> 00:02.000\nHi\n".encode("utf-16"),
                id="utf-16-vtt",
            ),
        ],
    )
    def test_transcripts_recognised_by_content(
        self, tmp_path: Path, name: str, content: str | bytes
    ) -> None:
        assert is_transcript_file(_write(tmp_path, name, content))

    def test_audio_is_not_a_transcript(self, tmp_path: Path) -> None:
        assert not is_transcript_file(silence(tmp_path / "recording", 1.0))

    def test_other_text_is_not_a_transcript(self, tmp_path: Path) -> None:
        assert not is_transcript_file(_write(tmp_path, "notes.md", "# Notes\n\nHello\n"))


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

    def test_untimed_turns_keep_their_order_and_speakers_at_an_even_pace(
        self, tmp_path: Path
    ) -> None:
        # A meeting corpus's export (QMSum's AMI meetings): who said what, in order, no times.
        turns = {
            "topic_list": [],
            "meeting_transcripts": [
                {"speaker": "Project Manager", "content": "Okay , let's begin ."},
                {"speaker": "Marketing", "content": "{vocalsound}"},
                {"speaker": "Marketing", "content": "So we go with the yellow case ."},
            ],
        }
        path = _write(tmp_path, "TS1000a.json", json.dumps(turns))

        transcript = parse_transcript_file(path)

        assert [(s.speaker, s.text) for s in transcript.segments] == [
            ("Project Manager", "Okay , let's begin ."),
            ("Marketing", "{vocalsound}"),
            ("Marketing", "So we go with the yellow case ."),
        ]
        starts = [s.start for s in transcript.segments]
        assert starts[0] == 0.0
        assert all(
            earlier.end == later.start > earlier.start
            for earlier, later in itertools.pairwise(transcript.segments)
        )

    def test_untimed_turn_without_text_is_malformed(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "m.json",
            json.dumps({"meeting_transcripts": [{"speaker": "A", "content": 3}]}),
        )

        with pytest.raises(MalformedTranscriptError, match=r"meeting_transcripts\[0\]: 'content'"):
            parse_transcript_file(path)

    @pytest.mark.parametrize(
        ("name", "content", "expected"),
        [
            pytest.param("m.vtt", "", "m.vtt: file is empty", id="empty"),
            pytest.param("m.srt", " \n\n \n", "m.srt: file is empty", id="blank"),
            pytest.param(
                "m.vtt",
                b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8garbage",
                "m.vtt: not a text file",
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
                "m.doc",
                "hello",
                "m.doc: not a transcript: expected WebVTT, SRT, JSON segments or a Zoom transcript",
                id="unknown-format",
            ),
            pytest.param(
                "m.txt",
                "Notes from the meeting\n[Jane Doe] 10:01:02\nHello\n",
                "m.txt: line 1: expected '[Name] HH:MM:SS' or 'HH:MM:SS Name: text', "
                "got 'Notes from the meeting'",
                id="txt-not-zoom",
            ),
            pytest.param(
                "m.srt",
                b"1\n00:00:01,000 --> 00:00:02,000\nHi\x00\x01\n",
                "m.srt: not a text file",
                id="control-characters",
            ),
            pytest.param(
                "m.vtt",
                codecs.BOM_UTF16_LE + b"W\x00E\x00\x00\xd8",
                "m.vtt: not valid UTF-16-LE text",
                id="broken-utf-16",
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


def _cues(path: Path) -> list[tuple[float, float, str | None, str]]:
    return [(s.start, s.end, s.speaker, s.text) for s in parse_transcript_file(path).segments]


def _vtt(*cue_texts: str) -> str:
    cues = [
        f"{index}\n00:00:{index:02d}.000 --> 00:00:{index + 1:02d}.000\n{text}\n"
        for index, text in enumerate(cue_texts)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


class TestSpeakerLabels:
    @pytest.mark.parametrize(
        ("line", "speaker", "text"),
        [
            ("Jane Doe (she/her): I'll send it.", "Jane Doe (she/her)", "I'll send it."),
            ("O'Brien, Sean: Agreed.", "O'Brien, Sean", "Agreed."),
            ("Sam Lee [Guest]: Hi.", "Sam Lee [Guest]", "Hi."),
            ("Dr. Ana María López-García: Yes.", "Dr. Ana María López-García", "Yes."),
            ("Ludwig van Beethoven: Da.", "Ludwig van Beethoven", "Da."),
            ("Guest 2: Thanks.", "Guest 2", "Thanks."),
            ("SPEAKER_01: Right.", "SPEAKER_01", "Right."),
            ("JOHN: Over here!", "JOHN", "Over here!"),
            ("李明\uff1a你好", "李明", "你好"),
            ("Alice Chen: Note: the time is 10:30.", "Alice Chen", "Note: the time is 10:30."),
        ],
    )
    def test_display_names_are_speakers(
        self, tmp_path: Path, line: str, speaker: str, text: str
    ) -> None:
        path = _write(tmp_path, "zoom.vtt", _vtt(line))

        assert _cues(path) == [(0.0, 1.0, speaker, text)]

    @pytest.mark.parametrize(
        "line",
        [
            "Action items are in the doc: see the link.",
            "Here's the plan: we ship on Monday.",
            "So, the answer: yes.",
            "Q3: revenue is up.",
            "The call starts at 10:30 sharp.",
            "See https://example.com: it has the agenda.",
            "2 things: first, the budget.",
        ],
    )
    def test_sentences_with_a_colon_stay_text(self, tmp_path: Path, line: str) -> None:
        path = _write(tmp_path, "zoom.srt", f"1\n00:00:00,000 --> 00:00:01,000\n{line}\n")

        assert _cues(path) == [(0.0, 1.0, None, line)]


class TestCueBoundaries:
    def test_vtt_cue_ends_at_the_next_timing_line_without_a_blank_line(
        self, tmp_path: Path
    ) -> None:
        # As yt-dlp writes YouTube's captions.
        path = _write(
            tmp_path,
            "yt.en.vtt",
            "WEBVTT\nKind: captions\nLanguage: en\n"
            "00:00:00.000 --> 00:00:02.000 align:start position:0%\n"
            "so<00:00:00.500><c> welcome</c>\n"
            "00:00:02.000 --> 00:00:04.500 align:start position:0%\n"
            "to the review\n"
            "00:00:04.500 --> 00:00:06.000\n"
            "thanks\n",
        )

        assert _cues(path) == [
            (0.0, 2.0, None, "so welcome"),
            (2.0, 4.5, None, "to the review"),
            (4.5, 6.0, None, "thanks"),
        ]

    def test_srt_cue_ends_at_the_next_cue_without_a_blank_line(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "m.srt",
            "1\n00:00:01,000 --> 00:00:02,000\nAnn Lee: first\n"
            "2\n00:00:02,000 --> 00:00:03,000\nsecond, where a --> b\n",
        )

        assert _cues(path) == [
            (1.0, 2.0, "Ann Lee", "first"),
            (2.0, 3.0, None, "second, where a --> b"),
        ]


class TestStyling:
    def test_srt_styling_codes_stripped(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "m.srt",
            '1\n00:00:01,000 --> 00:00:02,000\n{\\an8}{\\i1}Top\\hline{\\i0} <font color="#ff0000">'
            "red</font> <B>bold</B> <3 & co\\Nnext\n",
        )

        assert _cues(path) == [(1.0, 2.0, None, "Top line red bold <3 & co next")]

    def test_vtt_cue_settings_and_override_codes_stripped(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "m.vtt",
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000 align:start position:0% line:0\n"
            "{\\an8}Bob Lee: Hello\n",
        )

        assert _cues(path) == [(1.0, 2.0, "Bob Lee", "Hello")]


class TestEncodings:
    CUES = "1\n00:00:01,000 --> 00:00:02,000\nJos\xe9 M\xfcller: \xc7a va? \u2013 Tr\xe8s bien.\n"

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
    def test_unicode_with_a_bom(self, tmp_path: Path, encoding: str) -> None:
        data = self.CUES.encode(encoding)
        if encoding == "utf-16-be":
            data = codecs.BOM_UTF16_BE + data
        path = _write(tmp_path, "m.srt", data)

        assert _cues(path) == [(1.0, 2.0, "Jos\xe9 M\xfcller", "\xc7a va? \u2013 Tr\xe8s bien.")]

    @pytest.mark.parametrize(
        ("encoding", "line", "speaker", "text"),
        [
            (
                "cp1252",
                "Jos\xe9 M\xfcller: \xc7a va? Tr\xe8s bien \u2013 \xe0 demain, \u201cmerci\u201d.",
                "Jos\xe9 M\xfcller",
                "\xc7a va? Tr\xe8s bien \u2013 \xe0 demain, \u201cmerci\u201d.",
            ),
            (
                "cp1251",
                "Иван Петров: Привет, как дела? Хорошо, спасибо.",
                "Иван Петров",
                "Привет, как дела? Хорошо, спасибо.",
            ),
            (
                "shift_jis",
                "山田太郎\uff1aこんにちは、元気ですか。はい、ありがとう。",
                "山田太郎",
                "こんにちは、元気ですか。はい、ありがとう。",
            ),
        ],
    )
    def test_legacy_encodings_detected(
        self, tmp_path: Path, encoding: str, line: str, speaker: str, text: str
    ) -> None:
        path = _write(
            tmp_path, "m.srt", f"1\n00:00:01,000 --> 00:00:02,000\n{line}\n".encode(encoding)
        )

        assert _cues(path) == [(1.0, 2.0, speaker, text)]


class TestFormatSniffing:
    @pytest.mark.parametrize("name", ["transcript.txt", "recording", "captions.dat"])
    def test_vtt_by_content(self, tmp_path: Path, name: str) -> None:
        path = _write(tmp_path, name, "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ann Lee>Hi\n")

        transcript = parse_transcript_file(path)

        assert transcript.provider == "platform:vtt"
        assert _cues(path) == [(1.0, 2.0, "Ann Lee", "Hi")]

    def test_srt_saved_as_vtt_is_read_as_srt(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "m.vtt", "1\n00:00:01,000 --> 00:00:02,000\nAnn Lee: Hi\n")

        assert parse_transcript_file(path).provider == "platform:srt"
        assert _cues(path) == [(1.0, 2.0, "Ann Lee", "Hi")]

    def test_zoom_saved_transcript(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "meeting_saved_closed_caption.txt",
            "[Jane Doe (she/her)] 23:59:58\nLet's start.\nFirst, the budget.\n\n"
            "[O'Brien, Sean] 00:00:04\nI'll send the numbers by Friday.\n\n"
            "[Jane Doe (she/her)] 00:00:09\nThanks.\n",
        )

        transcript = parse_transcript_file(path)

        assert transcript.provider == "platform:txt"
        # Times from the first caption, across midnight; the last lasts as long as it
        # takes to say.
        assert _cues(path) == [
            (0.0, 6.0, "Jane Doe (she/her)", "Let's start. First, the budget."),
            (6.0, 11.0, "O'Brien, Sean", "I'll send the numbers by Friday."),
            (11.0, 11.4, "Jane Doe (she/her)", "Thanks."),
        ]

    def test_zoom_caption_lines(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "closed_caption.txt",
            "10:01:02 Jane Doe: Hello there.\n10:01:05 Bob Lee: Agenda: budget.\n"
            "10:01:05 so that's it\n",
        )

        assert _cues(path) == [
            (0.0, 3.0, "Jane Doe", "Hello there."),
            (3.0, 3.8, "Bob Lee", "Agenda: budget."),
            (3.0, 4.2, None, "so that's it"),
        ]


class TestSeveralSpeakersInOneCue:
    def test_vtt_voices_each_get_their_segment(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "m.vtt",
            "WEBVTT\n\n00:01.000 --> 00:03.000\n<v Bob Lee>ok</v> <v.loud Ann O'Neil>"
            "fine by me</v>\n",
        )

        # The cue's time is shared by how much each one says.
        assert _cues(path) == [
            (1.0, 1.333, "Bob Lee", "ok"),
            (1.333, 3.0, "Ann O'Neil", "fine by me"),
        ]

    @pytest.mark.parametrize(
        "cue",
        [
            "- Bob Lee: ok\n- Ann O'Neil: fine by me",
            "-Bob Lee: ok\n-Ann O'Neil: fine by me",
            "- [Bob Lee] ok\n- [Ann O'Neil] fine by me",
            "\u2013 Bob Lee: ok\n\u2013 Ann O'Neil: fine by me",
        ],
    )
    def test_srt_dash_dialogue_splits_into_speakers(self, tmp_path: Path, cue: str) -> None:
        path = _write(tmp_path, "m.srt", f"1\n00:00:01,000 --> 00:00:03,000\n{cue}\n")

        assert _cues(path) == [
            (1.0, 1.333, "Bob Lee", "ok"),
            (1.333, 3.0, "Ann O'Neil", "fine by me"),
        ]

    def test_dialogue_without_names_and_continuation_lines(self, tmp_path: Path) -> None:
        path = _write(
            tmp_path,
            "m.srt",
            "1\n00:00:00,000 --> 00:00:02,000\nAre you coming\ntonight?\n- Yes.\n",
        )

        assert _cues(path) == [
            (0.0, 1.703, None, "Are you coming tonight?"),
            (1.703, 2.0, None, "Yes."),
        ]

    def test_a_minus_sign_is_no_dialogue_dash(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "m.srt", "1\n00:00:00,000 --> 00:00:02,000\nIt was\n-5 degrees.\n")

        assert _cues(path) == [(0.0, 2.0, None, "It was -5 degrees.")]


AWKWARD = (
    TranscribedSegment(0.0, 1.5, "a --> b <3 & co &amp; <i>not</i> markup", "R&D <Team>"),
    TranscribedSegment(1.5, 2.25, "Agenda: budget, then hiring."),
    TranscribedSegment(2.25, 3.0, "[Bob] Alice: hi"),
    TranscribedSegment(3.0, 4.0, "- ok"),
    TranscribedSegment(4.0, 5.001, "Fine: yes.", "O'Brien, Sean"),
    TranscribedSegment(5.001, 6.0, "x", "Jane Doe (she/her)"),
    TranscribedSegment(3723.004, 3725.0, "Later.", "Zoë Ångström-Lee"),
)


class TestExport:
    def test_vtt_round_trips_any_text_and_speaker(self, tmp_path: Path) -> None:
        path = _write(tmp_path, "export.vtt", write_vtt(AWKWARD))

        assert parse_transcript_file(path).segments == AWKWARD

    def test_vtt_escapes_markup_and_the_timing_arrow(self) -> None:
        vtt = write_vtt(AWKWARD[:1])

        assert vtt == (
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n"
            "<v R&amp;D &lt;Team&gt;>a --&gt; b &lt;3 &amp; co &amp;amp; "
            "&lt;i&gt;not&lt;/i&gt; markup\n"
        )

    def test_srt_round_trips_text_and_names(self, tmp_path: Path) -> None:
        named = tuple(s for s in AWKWARD if s.speaker != "R&D <Team>")
        path = _write(tmp_path, "export.srt", write_srt(named))

        assert parse_transcript_file(path).segments == named


class _TranscriptionService:
    """An outside transcriber, noting what it was asked to hear."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str | None, tuple[str, ...]]] = []

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
        self.heard.append((path.name, title, tuple(participants)))
        segment = TranscribedSegment(0.0, 1.0, "Hello.")
        return Transcript(segments=(segment,), language="en", duration=1.0, provider="service")


class TestPlatformTranscripts:
    def test_a_transcript_is_read_whatever_its_name_and_a_recording_is_heard(
        self, tmp_path: Path
    ) -> None:
        service = _TranscriptionService()
        transcriber = PlatformTranscripts(service)
        transcript = _write(
            tmp_path, "call-export", "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann>Hi.</v>\n"
        )
        recording = silence(tmp_path / "call.wav", 1.0)

        read = transcriber.transcribe(transcript, title="Sync", participants=["Ann Lee"])
        heard = transcriber.transcribe(recording, title="Sync", participants=["Ann Lee"])

        assert (read.provider, read.segments[0].speaker) == ("platform:vtt", "Ann")
        assert heard.provider == "service"
        assert service.heard == [("call.wav", "Sync", ("Ann Lee",))]
