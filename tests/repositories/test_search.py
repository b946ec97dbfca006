"""Full-text search on both databases: PostgreSQL's text search and the embedded SQLite's
FTS5, over real meetings run through the in-process pipeline (transcript files of the
shared corpus, extractive notes)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select, text

from pipeline import schema
from pipeline.config import Settings
from pipeline.intake import create_conversation
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from pipeline.stages import StageOutcome
from repositories.database import UnitOfWork
from repositories.models import Conversation, Synthesis, TranscriptSegment
from repositories.search import SearchHit

LAUNCH = "Mobile app launch planning"
INCIDENT = "Checkout outage post-incident review"
# The incident review was held before November, the launch planning after it began.
HELD = {
    LAUNCH: datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    INCIDENT: datetime(2026, 10, 5, 9, 0, tzinfo=UTC),
}
TRANSCRIPTS = {LAUNCH: "launch-planning", INCIDENT: "incident-review"}

INJECTIONS = [
    "'; DROP TABLE conversations; --",
    '" OR 1=1 --',
    "decided' OR '1'='1",
    'NEAR(launch "march")',
    '"unbalanced phrase',
    "*",
    "decid*",
    "text: launch",
    "launch AND OR NOT",
    "^launch",
    "(((",
    "- - -",
    "\\",
    "nul\x00byte",
    "'",
]


def runtime_on(database_url: str, corpus: Path) -> Runtime:
    """The embedded defaults (transcript files read as they are, extractive notes), no graph."""
    settings = Settings(database_url=SecretStr(database_url), neo4j_uri=None)
    return Runtime(settings, extra_audio_roots=(corpus / "scripted",))


def process_meeting(runtime: Runtime, corpus: Path, title: str) -> uuid.UUID:
    """A scripted meeting's transcript (with its times) through every stage, in-process."""
    path = corpus / "scripted" / f"{TRANSCRIPTS[title]}.timeline.json"
    conversation_id = create_conversation(
        runtime.unit_of_work(), source_uri=str(path), title=title, started_at=HELD[title]
    )
    assert run_in_process(conversation_id, runtime) is StageOutcome.DONE
    return conversation_id


def said_at(corpus: Path, title: str, words: str) -> tuple[float, str]:
    """When, and by whom, the turn holding `words` was said in a scripted meeting."""
    turns = json.loads((corpus / "scripted" / f"{TRANSCRIPTS[title]}.timeline.json").read_text())
    turn = next(turn for turn in turns if words in turn["text"])
    return turn["start"], turn["speaker"]


@dataclass
class Searchable:
    dialect: str
    runtime: Runtime
    meetings: dict[str, uuid.UUID]

    def search(self, query: str, **filters: Any) -> list[SearchHit]:
        with self.runtime.unit_of_work() as uow:
            return uow.search.search(query, **filters)

    def uow(self) -> UnitOfWork:
        return self.runtime.unit_of_work()

    @property
    def engine(self) -> Engine:
        return self.runtime.engine


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def searchable(
    request: pytest.FixtureRequest, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Searchable]:
    if request.param == "postgresql":
        url, _ = request.getfixturevalue("committed_database")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'minutes.db'}"
    runtime = runtime_on(url, corpus)
    schema.upgrade(runtime.engine)
    meetings = {title: process_meeting(runtime, corpus, title) for title in (LAUNCH, INCIDENT)}
    yield Searchable(request.param, runtime, meetings)
    runtime.close()


def _texts(hits: list[SearchHit]) -> list[str]:
    return [hit.snippet.replace("**", "") for hit in hits]


class TestSearch:
    def test_a_phrase_matches_its_words_in_order_only(
        self, searchable: Searchable, corpus: Path
    ) -> None:
        hits = searchable.search('"send the final media plan"')

        start, speaker = said_at(corpus, LAUNCH, "send the final media plan")
        said = [hit for hit in hits if hit.kind == "transcript"]
        assert [(hit.start, hit.speaker) for hit in said] == [(start, speaker)]
        assert said[0].conversation_id == searchable.meetings[LAUNCH]
        # The action item the notes made of it, placed where it was said.
        item = next(hit for hit in hits if hit.kind == "action_item")
        assert (item.start, item.speaker) == (start, speaker)
        # FTS5 marks the phrase, PostgreSQL each word of it.
        assert "final media plan**" in said[0].snippet.replace("** **", " ")
        assert searchable.search('"send the plan"') == []

    @pytest.mark.parametrize(
        ("query", "found"),
        [
            ("decided", "we still have to decide that"),
            ("decide", "decided to launch on the first of march"),
        ],
    )
    def test_a_word_finds_its_other_forms(
        self, searchable: Searchable, query: str, found: str
    ) -> None:
        hits = searchable.search(query)

        assert any(found in snippet.lower() for snippet in _texts(hits)), _texts(hits)

    def test_a_result_names_the_meeting_and_the_time_in_it(
        self, searchable: Searchable, corpus: Path
    ) -> None:
        hits = searchable.search("influencer videos", limit=100)

        start, speaker = said_at(corpus, LAUNCH, "ten thousand on influencer videos")
        hit = next(hit for hit in hits if hit.kind == "transcript" and hit.start == start)
        assert hit.conversation_id == searchable.meetings[LAUNCH]
        assert hit.title == LAUNCH
        assert hit.held_at == HELD[LAUNCH]
        assert hit.speaker == speaker
        assert "**influencer** **videos**" in hit.snippet

    def test_every_snippet_marks_the_match(self, searchable: Searchable) -> None:
        hits = searchable.search("staging or payments", limit=100)

        assert len(hits) >= 5
        for hit in hits:
            # "payments" finds "payment" too.
            assert re.search(r"\*\*(staging|payments?)\*\*", hit.snippet.lower()), hit

    @pytest.mark.parametrize("speaker", ["Priya Natarajan", "priya", "PRIYA NATARAJAN"])
    def test_the_speaker_filter_keeps_what_that_speaker_said(
        self, searchable: Searchable, speaker: str
    ) -> None:
        hits = searchable.search("decided", speaker=speaker, limit=100)

        assert hits
        assert {hit.speaker for hit in hits} == {"Priya Natarajan"}
        assert {hit.conversation_id for hit in hits} == {searchable.meetings[INCIDENT]}
        assert searchable.search("decided", speaker="nobody of that name") == []

    def test_the_since_filter_keeps_meetings_held_since(self, searchable: Searchable) -> None:
        every = searchable.search("decided", limit=100)
        since = searchable.search("decided", since=datetime(2026, 11, 1, tzinfo=UTC), limit=100)

        assert {hit.conversation_id for hit in every} == set(searchable.meetings.values())
        assert since
        assert {hit.conversation_id for hit in since} == {searchable.meetings[LAUNCH]}

    def test_words_said_together_rank_above_words_said_apart(
        self, searchable: Searchable, corpus: Path
    ) -> None:
        hits = [hit for hit in searchable.search("checkout alert") if hit.kind == "transcript"]

        apart, _ = said_at(corpus, INCIDENT, "The alert threshold waits")
        together = [said_at(corpus, INCIDENT, words)[0] for words in ("checkout alert window",)]
        order = [hit.start for hit in hits]
        assert apart in order
        assert all(order.index(start) < order.index(apart) for start in together), order
        ranks = [hit.rank for hit in searchable.search("checkout alert")]
        assert ranks == sorted(ranks, reverse=True)

    @pytest.mark.parametrize("query", INJECTIONS)
    def test_query_syntax_and_sql_in_a_query_are_only_text(
        self, searchable: Searchable, query: str
    ) -> None:
        hits = searchable.search(query)

        assert all(isinstance(hit, SearchHit) for hit in hits)
        with searchable.engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(Conversation)) == 2
        assert searchable.search("decided")

    def test_words_of_the_query_in_awkward_syntax_are_still_found(
        self, searchable: Searchable
    ) -> None:
        for query in ['"influencer videos', "influencer* (videos) -zebra", "influencer: videos!"]:
            assert searchable.search(query), query


class TestSearchEntriesFollowTheRows:
    def test_a_deleted_meeting_leaves_no_search_entries(
        self, searchable: Searchable, corpus: Path
    ) -> None:
        before = _index_rows(searchable)
        disposable = process_meeting(searchable.runtime, corpus, LAUNCH)
        assert disposable in {hit.conversation_id for hit in searchable.search("media plan")}
        with searchable.engine.connect() as connection:
            segments = connection.scalar(
                select(func.count())
                .select_from(TranscriptSegment)
                .where(TranscriptSegment.conversation_id == disposable)
            )
        assert segments
        assert _index_rows(searchable) != before

        # As `minutes delete` does: the conversation's row goes, the rest by cascade.
        with searchable.uow() as uow:
            uow.conversations.delete(uow.conversations.get(disposable))

        hits = searchable.search("media plan", limit=100)
        assert disposable not in {hit.conversation_id for hit in hits}
        assert searchable.meetings[LAUNCH] in {hit.conversation_id for hit in hits}
        assert _index_rows(searchable) == before
        _check_index(searchable)

    def test_new_notes_replace_the_old_ones_in_the_index(self, searchable: Searchable) -> None:
        meeting = searchable.meetings[INCIDENT]
        with searchable.uow() as uow:
            synthesis = uow.syntheses.get_by_conversation(meeting)
            assert synthesis is not None
            old_summary = synthesis.summary
            uow.syntheses.update_where(
                Synthesis.conversation_id == meeting, summary="Quarterly zeppelin budget."
            )
        try:
            hits = searchable.search("zeppelin")
            assert [(hit.kind, hit.conversation_id) for hit in hits] == [("summary", meeting)]
        finally:
            with searchable.uow() as uow:
                uow.syntheses.update_where(
                    Synthesis.conversation_id == meeting, summary=old_summary
                )
        assert searchable.search("zeppelin") == []
        _check_index(searchable)


def _index_rows(searchable: Searchable) -> tuple[int, ...]:
    """How many rows each index holds: SQLite's FTS5 tables, PostgreSQL's vectors."""
    with searchable.engine.connect() as connection:
        if searchable.dialect == "sqlite":
            return tuple(
                connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0  # noqa: S608
                for table in ("transcript_segments_search_docsize", "notes_search")
            )
        return tuple(
            connection.scalar(
                select(func.count()).select_from(model).where(model.search_vector.is_not(None))
            )
            or 0
            for model in (TranscriptSegment, Synthesis)
        )


def _check_index(searchable: Searchable) -> None:
    """SQLite: the segments' index agrees with the segments (FTS5's own check raises if not)."""
    if searchable.dialect != "sqlite":
        return
    with searchable.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO transcript_segments_search (transcript_segments_search, rank) "
                "VALUES ('integrity-check', 1)"
            )
        )


GERMAN = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v Jonas Weber>Wir haben entschieden, die Prüfung auf Montag zu verschieben.

00:00:04.500 --> 00:00:08.000
<v Lena Vogel>Was machen wir mit dem Budget für die Messe?
"""


class TestMeetingsInOtherLanguages:
    def test_their_words_are_found_as_said(self, searchable: Searchable, tmp_path: Path) -> None:
        path = tmp_path / "planung.vtt"
        path.write_text(GERMAN, encoding="utf-8")
        runtime = Runtime(searchable.runtime.settings, extra_audio_roots=(tmp_path,))
        meeting = create_conversation(runtime.unit_of_work(), source_uri=str(path), title="Planung")
        try:
            assert run_in_process(meeting, runtime) is StageOutcome.DONE

            # "Was" is an English stop word; in German it is a word to find.
            for query, speaker in [("Prüfung", "Jonas Weber"), ('"was machen wir"', "Lena Vogel")]:
                hits = [hit for hit in searchable.search(query) if hit.kind == "transcript"]
                assert [(hit.conversation_id, hit.speaker) for hit in hits] == [
                    (meeting, speaker)
                ], query
        finally:
            with runtime.unit_of_work() as uow:
                uow.conversations.delete(uow.conversations.get(meeting))
            runtime.close()
