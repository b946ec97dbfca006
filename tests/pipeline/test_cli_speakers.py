"""`minutes process --speakers`: a recording's speakers named from a timeline, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from repositories.models import Conversation
from tests.pipeline.test_cli import cli_database, count, migrated, one_line_error, run

__all__ = ["cli_database", "migrated"]  # fixtures this module uses

MEETING = "incident-review"


def true_speaker(start: float, end: float, timeline: list[dict[str, Any]]) -> str:
    """The person whose turns overlap [start, end] longest."""
    turn = max(timeline, key=lambda turn: min(end, turn["end"]) - max(start, turn["start"]))
    return str(turn["speaker"])


@pytest.fixture(scope="module")
def named(
    migrated: tuple[str, Engine], corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The voiced meeting processed with its true timeline (names and addresses) as
    --speakers, and no participants given."""
    url, _ = migrated
    script = json.loads((corpus / "scripted" / f"{MEETING}.json").read_text())
    emails = {person["name"]: person["email"] for person in script["participants"]}
    truth = json.loads((corpus / "voices" / f"{MEETING}.timeline.json").read_text())
    timeline = tmp_path_factory.mktemp("timeline") / "speakers.json"
    timeline.write_text(
        json.dumps(
            [
                {
                    "name": t["speaker"],
                    "email": emails[t["speaker"]],
                    "start": t["start"],
                    "end": t["end"],
                }
                for t in truth
            ]
        )
    )
    result = run(
        "process",
        str(corpus / "voices" / f"{MEETING}.flac"),
        "--speakers",
        str(timeline),
        "--json",
        database_url=url,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document, truth


class TestSpeakersTimeline:
    def test_every_segment_is_named_right(
        self, named: tuple[dict[str, Any], list[dict[str, Any]]]
    ) -> None:
        document, truth = named

        segments = document["segments"]
        assert segments
        assert [s["speaker"] for s in segments] == [
            true_speaker(s["start"], s["end"], truth) for s in segments
        ]

    def test_the_people_it_names_are_participants_with_their_addresses(
        self, named: tuple[dict[str, Any], list[dict[str, Any]]], corpus: Path
    ) -> None:
        document, _ = named
        script = json.loads((corpus / "scripted" / f"{MEETING}.json").read_text())

        people = {(p["name"], p["email"]) for p in document["participants"]}
        assert people == {(p["name"], p["email"]) for p in script["participants"]}
        assert all(p["spoken_seconds"] for p in document["participants"])

    def test_a_first_person_commitment_is_owned_by_its_speaker(
        self, named: tuple[dict[str, Any], list[dict[str, Any]]]
    ) -> None:
        document, _ = named

        owners = {
            item["owner"]: item["owner_email"]
            for item in document["notes"]["action_items"]
            if "status page" in item["text"]
        }
        assert owners == {"Priya Natarajan": "priya@example.org"}


class TestBadTimeline:
    @pytest.mark.parametrize(
        "content",
        [
            '[{"name": "Ann", "start": 1}]',
            '[{"name": "Ann", "start": 5, "end": 2}]',
            "{not json",
            "SPEAKER meeting 1 zero 2.0 <NA> <NA> ann <NA> <NA>",
            "[]",
        ],
        ids=["no-end", "ends-before-it-starts", "not-json-or-rttm", "rttm-bad-onset", "empty"],
    )
    def test_a_malformed_timeline_is_one_error_line_and_no_rows(
        self, migrated: tuple[str, Engine], corpus: Path, tmp_path: Path, content: str
    ) -> None:
        url, engine = migrated
        timeline = tmp_path / "speakers.json"
        timeline.write_text(content)
        before = count(engine, Conversation)

        line = one_line_error(
            run(
                "process",
                str(corpus / "speech" / "jfk.flac"),
                "--speakers",
                str(timeline),
                database_url=url,
            )
        )

        assert line.startswith(f"error: --speakers {timeline}: ")
        assert count(engine, Conversation) == before

    def test_a_missing_timeline_file(
        self, migrated: tuple[str, Engine], corpus: Path, tmp_path: Path
    ) -> None:
        url, _ = migrated
        line = one_line_error(
            run(
                "process",
                str(corpus / "speech" / "jfk.flac"),
                "--speakers",
                str(tmp_path / "nowhere.json"),
                database_url=url,
            )
        )
        assert "No such file" in line
