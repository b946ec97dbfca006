"""`minutes search` as a user runs it: a subprocess on the embedded SQLite database, holding
scripted meetings run through the in-process pipeline."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import schema
from pipeline.search import parse_since
from tests.pipeline.test_cli import one_line_error, run
from tests.repositories.test_search import (
    HELD,
    INCIDENT,
    LAUNCH,
    process_meeting,
    runtime_on,
    said_at,
)


@pytest.fixture(scope="module")
def meetings(
    corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, uuid.UUID]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-search') / 'minutes.db'}"
    runtime = runtime_on(url, corpus)
    schema.upgrade(runtime.engine)
    ids = {title: process_meeting(runtime, corpus, title) for title in (LAUNCH, INCIDENT)}
    runtime.close()
    return url, ids


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds))).rjust(8, "0")


class TestSearchCommand:
    def test_results_name_the_meeting_time_speaker_and_mark_the_match(
        self, meetings: tuple[str, dict[str, uuid.UUID]], corpus: Path
    ) -> None:
        url, ids = meetings

        result = run("search", "decided", database_url=url)

        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert f"{LAUNCH}  2026-11-20  {ids[LAUNCH]}" in lines
        assert f"{INCIDENT}  2026-10-05  {ids[INCIDENT]}" in lines
        start, speaker = said_at(corpus, LAUNCH, "we still have to decide that")
        assert any(
            line.startswith(f"  [{_clock(start)}] {speaker}: ") and "**decide**" in line
            for line in lines
        ), result.stdout

    def test_json_is_a_list_of_results_best_first(
        self, meetings: tuple[str, dict[str, uuid.UUID]], corpus: Path
    ) -> None:
        url, ids = meetings

        result = run("search", "influencer videos", "--json", database_url=url)

        assert result.returncode == 0, result.stderr
        hits = json.loads(result.stdout)
        assert hits
        assert all(
            set(hit)
            == {
                "conversation_id",
                "title",
                "date",
                "kind",
                "start",
                "time",
                "speaker",
                "snippet",
                "rank",
            }
            for hit in hits
        )
        ranks = [hit["rank"] for hit in hits]
        assert ranks == sorted(ranks, reverse=True)
        start, speaker = said_at(corpus, LAUNCH, "ten thousand on influencer videos")
        said = next(hit for hit in hits if hit["kind"] == "transcript" and hit["start"] == start)
        assert said["conversation_id"] == str(ids[LAUNCH])
        assert said["title"] == LAUNCH
        assert said["date"] == HELD[LAUNCH].isoformat()
        assert said["time"] == _clock(start)
        assert said["speaker"] == speaker
        assert "**influencer**" in said["snippet"]

    def test_speaker_and_since_filter_the_results(
        self, meetings: tuple[str, dict[str, uuid.UUID]]
    ) -> None:
        url, ids = meetings

        by_priya = run("search", "decided", "--speaker", "PRIYA", "--json", database_url=url)
        since = run("search", "decided", "--since", "2026-11-01", "--json", database_url=url)

        assert by_priya.returncode == since.returncode == 0, (by_priya.stderr, since.stderr)
        assert {hit["speaker"] for hit in json.loads(by_priya.stdout)} == {"Priya Natarajan"}
        assert {hit["conversation_id"] for hit in json.loads(since.stdout)} == {str(ids[LAUNCH])}

    def test_nothing_found_says_so(self, meetings: tuple[str, dict[str, uuid.UUID]]) -> None:
        url, _ = meetings

        text = run("search", "zeppelin", database_url=url)
        as_json = run("search", "zeppelin", "--json", database_url=url)

        assert (text.returncode, text.stdout) == (0, "No matches.\n")
        assert (as_json.returncode, json.loads(as_json.stdout)) == (0, [])

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["decided", "--since", "the day after never"], "is not a date"),
            (["   "], "the query is empty"),
            (["decided", "--limit", "0"], "--limit"),
        ],
        ids=["bad-since", "empty-query", "bad-limit"],
    )
    def test_bad_input_is_one_line_and_status_2(
        self, meetings: tuple[str, dict[str, uuid.UUID]], args: list[str], message: str
    ) -> None:
        url, _ = meetings

        assert message in one_line_error(run("search", *args, database_url=url))


class TestParseSince:
    def test_a_date_is_its_midnight_in_utc(self) -> None:
        assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)

    def test_words_count_back_from_now(self) -> None:
        expected = datetime.now(UTC) - timedelta(days=7)

        assert abs(parse_since("last week") - expected) < timedelta(minutes=5)
