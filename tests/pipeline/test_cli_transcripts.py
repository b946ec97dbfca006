"""`minutes process` on real-world transcript files, and `show --format vtt|srt` read back.

Run as a user runs them, on the embedded SQLite default in a scratch directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.test_cli import one_line_error, run

SEGMENT_FIELDS = ("start", "end", "speaker", "text")
# Names and text that a careless export mangles: "<", "&", the cue arrow, colons. (SRT has
# no escapes, so text that looks like its tags, "<i>", is read as tags: VTT keeps it.)
RENAMED = {
    "Priya Natarajan": "Natarajan, Priya (she/her)",
    "Tom Becker": "Tom O'Brien-Becker",
    "Grace Liu": "Dr. Grace Liu [Guest]",
}
AWKWARD_TEXT = " Q&A: see the <doc> --> section 2 &amp; 3, <3"


def _process(path: Path, cwd: Path) -> dict[str, Any]:
    result = run("process", str(path), "--json", database_url=None, cwd=cwd)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _segments(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(segment[key] for key in SEGMENT_FIELDS) for segment in document["segments"]]


@pytest.fixture
def awkward_meeting(corpus: Path, tmp_path: Path) -> Path:
    """The scripted incident review, its people renamed and some of its text made awkward."""
    turns = json.loads((corpus / "scripted" / "incident-review.timeline.json").read_text())
    segments = [{**turn, "speaker": RENAMED[turn["speaker"]]} for turn in turns]
    for turn in segments[::4]:
        turn["text"] += AWKWARD_TEXT
    # Said by nobody known, and starting like a speaker label: it must not gain a speaker.
    segments[5]["speaker"] = None
    segments[5]["text"] = "Agenda: the root cause, then the follow ups."
    segments[9]["speaker"] = None
    segments[9]["text"] = "- and [Tom] asked: why?"
    path = tmp_path / "incident-review.json"
    path.write_text(json.dumps({"segments": segments}), encoding="utf-8")
    return path


class TestExportReadsBack:
    @pytest.mark.parametrize("format", ["vtt", "srt"])
    def test_process_of_the_export_gives_the_same_segments_and_speakers(
        self, awkward_meeting: Path, tmp_path: Path, format: str
    ) -> None:
        original = _process(awkward_meeting, tmp_path)
        exported = run(
            "show",
            original["conversation"]["id"],
            "--format",
            format,
            database_url=None,
            cwd=tmp_path,
        )
        assert exported.returncode == 0, exported.stderr
        export = tmp_path / f"export.{format}"
        export.write_text(exported.stdout, encoding="utf-8")

        again = _process(export, tmp_path)

        assert len(original["segments"]) == 21
        assert _segments(again) == _segments(original)
        assert {p["name"] for p in again["participants"]} == set(RENAMED.values())


class TestRealWorldFiles:
    def test_zoom_display_names_give_speakers_and_action_owners(self, tmp_path: Path) -> None:
        path = tmp_path / "GMT20260311-150102_Recording.transcript.vtt"
        path.write_text(
            "WEBVTT\n\n1\n00:00:00.000 --> 00:00:04.000\n"
            "Jane Doe (she/her): We decided to move the launch to March.\n\n"
            "2\n00:00:04.000 --> 00:00:08.000\n"
            "O'Brien, Sean: I will send the budget report by Friday.\n",
            encoding="utf-8",
        )

        document = _process(path, tmp_path)

        assert [s["speaker"] for s in document["segments"]] == [
            "Jane Doe (she/her)",
            "O'Brien, Sean",
        ]
        assert [item["owner"] for item in document["notes"]["action_items"]] == ["O'Brien, Sean"]

    @pytest.mark.parametrize(
        ("name", "content"),
        [
            pytest.param(
                "meeting_saved_closed_caption.txt",
                "[Ann Lee] 10:01:02\nWe decided to ship on Monday.\n\n"
                "[Bo Chen] 10:01:05\nI will write the notes by Friday.\n",
                id="zoom-saved-transcript",
            ),
            pytest.param(
                "captions",
                "WEBVTT\n\n00:00.000 --> 00:03.000\n<v Ann Lee>We decided to ship on Monday.\n\n"
                "00:03.000 --> 00:06.000\n<v Bo Chen>I will write the notes by Friday.\n",
                id="vtt-without-suffix",
            ),
        ],
    )
    def test_transcripts_recognised_by_content(
        self, tmp_path: Path, name: str, content: str
    ) -> None:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")

        document = _process(path, tmp_path)

        assert [s["speaker"] for s in document["segments"]] == ["Ann Lee", "Bo Chen"]
        assert document["segments"][1]["start"] == 3.0

    def test_utf_16_transcript(self, tmp_path: Path) -> None:
        path = tmp_path / "teams.vtt"
        path.write_text(
            "WEBVTT\n\n00:00.000 --> 00:03.000\n<v Zoë Ångström>Déjà vu, señor.\n",
            encoding="utf-16",
        )

        document = _process(path, tmp_path)

        assert _segments(document) == [(0.0, 3.0, "Zoë Ångström", "Déjà vu, señor.")]

    def test_malformed_transcript_is_one_error_line_and_stores_nothing(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "notes.txt"
        path.write_text("Minutes of the meeting\n10:01:02 Ann Lee: Hi\n", encoding="utf-8")

        result = run("process", str(path), database_url=None, cwd=tmp_path)

        assert one_line_error(result) == (
            "error: notes.txt: line 1: expected '[Name] HH:MM:SS' or 'HH:MM:SS Name: text', "
            "got 'Minutes of the meeting'"
        )
        listed = run("list", "--json", database_url=None, cwd=tmp_path)
        assert json.loads(listed.stdout) == []
