"""The OpenAI-compatible notes provider against a real server: llama.cpp's, serving
SmolLM2-135M-Instruct with an 8k context (the `llm_server` fixture).

A 135M model writes poor notes; what these tests hold is what every model gives: notes of
the schema's shape, tokens as the server counted them, long transcripts in parts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from integrations.synthesis.base import (
    ActionItem,
    Attendee,
    MeetingContext,
    NoteItem,
    Notes,
    Utterance,
)
from integrations.synthesis.grounding import ground
from integrations.synthesis.openai import OpenAISynthesizer
from tests.corpus import CORPUS
from tests.llm_server import LlmServer

MEETING = MeetingContext(
    title="Office move",
    attendees=(Attendee("Maria Rossi", is_organizer=True), Attendee("Tom Berg")),
)
UTTERANCES = [
    Utterance(0, "Morning. We need to decide when we move to the new office.", "Maria Rossi"),
    Utterance(1, "The lease on this floor ends in June, so May works best.", "Tom Berg", 4.0),
    Utterance(2, "Then we move on the second weekend of May. Agreed?", "Maria Rossi", 9.0),
    Utterance(3, "Agreed. I'll book the movers by Friday.", "Tom Berg", 13.0),
    Utterance(4, "Who tells the landlord? We have not settled that.", "Maria Rossi", 17.0),
]
NOTES_KEYS = {"summary", "decisions", "action_items", "open_questions", "topics"}


class RecordingTransport(httpx.BaseTransport):
    """httpx's own transport, keeping each exchange's JSON bodies to look at afterwards."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.exchanges: list[tuple[dict[str, Any], httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        body = response.read()
        response.close()
        replayed = httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )
        self.exchanges.append((json.loads(request.content), replayed))
        return replayed

    def close(self) -> None:
        self._inner.close()

    def answered(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [
            (request, response.json())
            for request, response in self.exchanges
            if response.status_code == httpx.codes.OK
        ]


@dataclass(frozen=True)
class Synthesized:
    notes: Notes
    model: str
    exchanges: list[tuple[dict[str, Any], dict[str, Any]]]


def synthesize(
    llm_server: LlmServer, utterances: Sequence[Utterance], **settings: Any
) -> Synthesized:
    recording = RecordingTransport()
    synthesizer = OpenAISynthesizer(
        base_url=llm_server.base_url, model=llm_server.model, transport=recording, **settings
    )
    try:
        notes = synthesizer.synthesize(utterances, MEETING)
    finally:
        synthesizer.close()
    return Synthesized(notes, synthesizer.model, recording.answered())


@pytest.fixture(scope="module")
def short_meeting(llm_server: LlmServer) -> Synthesized:
    """One short meeting's notes, looked at by several tests: a small model on a CPU takes
    most of a minute to write them."""
    return synthesize(llm_server, UTTERANCES)


def reply_content(response: dict[str, Any]) -> str:
    content: str = response["choices"][0]["message"]["content"]
    return content


def transcript_lines(request: dict[str, Any]) -> list[str]:
    return [
        line for line in request["messages"][1]["content"].splitlines() if line.startswith("[S")
    ]


def assert_well_formed(notes: Notes) -> None:
    items: list[NoteItem | ActionItem] = [
        *notes.key_decisions,
        *notes.action_items,
        *notes.open_questions,
    ]
    for item in items:
        assert isinstance(item.text, str)
        if item.evidence is not None:
            assert all(isinstance(segment, int) for segment in item.evidence.segment_ids)
    assert all(topic.strip() == topic and topic for topic in notes.key_topics)


class TestAgainstLlamaCpp:
    def test_notes_come_back_in_the_schema_without_a_repair(
        self, short_meeting: Synthesized
    ) -> None:
        assert len(short_meeting.exchanges) == 1
        request, response = short_meeting.exchanges[0]
        # llama.cpp's server refuses `json_schema`; the schema goes with `json_object`.
        assert request["response_format"]["type"] in ("json_schema", "json_object")
        assert set(json.loads(reply_content(response))) == NOTES_KEYS
        notes = short_meeting.notes
        assert (notes.provider, notes.model) == ("openai", short_meeting.model)
        assert isinstance(notes.summary, str)
        assert_well_formed(notes)

    def test_tokens_are_those_the_server_counted(self, short_meeting: Synthesized) -> None:
        usages = [response["usage"] for _, response in short_meeting.exchanges]
        notes = short_meeting.notes
        assert notes.prompt_tokens == sum(usage["prompt_tokens"] for usage in usages) > 0
        assert notes.completion_tokens == sum(usage["completion_tokens"] for usage in usages) > 0
        assert notes.seconds is not None

    def test_a_transcript_over_the_budget_is_noted_in_parts_then_merged(
        self, llm_server: LlmServer
    ) -> None:
        # Under two budgets of transcript: two parts and a merge.
        utterances = scripted_meeting("launch-planning")[:8]

        synthesized = synthesize(llm_server, utterances, max_input_tokens=200)

        requests = [request for request, _ in synthesized.exchanges]
        parts, merge = requests[:-1], requests[-1]
        assert len(parts) > 1
        assert [line.split("]")[0] for part in parts for line in transcript_lines(part)] == [
            f"[S{utterance.segment_id} 00:00:00 {utterance.speaker}" for utterance in utterances
        ]
        assert f"Notes of part {len(parts)} of {len(parts)}" in merge["messages"][1]["content"]
        assert not transcript_lines(merge)
        usages = [response["usage"] for _, response in synthesized.exchanges]
        assert synthesized.notes.prompt_tokens == sum(usage["prompt_tokens"] for usage in usages)
        assert_well_formed(synthesized.notes)


def scripted_meeting(name: str) -> Sequence[Utterance]:
    meeting = json.loads((CORPUS / "scripted" / f"{name}.json").read_text())
    return [
        Utterance(number, turn["text"], turn["speaker"])
        for number, turn in enumerate(meeting["turns"])
    ]


class TestGroundingTheModelsNotes:
    def test_items_whose_quote_was_not_said_are_dropped_and_counted(
        self, short_meeting: Synthesized
    ) -> None:
        raw = short_meeting.notes

        grounded = ground(raw, UTTERANCES)

        said = {u.segment_id: u.text for u in UTTERANCES}
        kept: list[NoteItem | ActionItem] = [
            *grounded.key_decisions,
            *grounded.action_items,
            *grounded.open_questions,
        ]
        raw_count = len(raw.key_decisions) + len(raw.action_items) + len(raw.open_questions)
        assert len(kept) + grounded.dropped_items == raw_count
        for item in kept:
            assert item.evidence is not None
            cited = " ".join(said[i].lower() for i in item.evidence.segment_ids)
            assert _letters(item.evidence.quote) in _letters(cited), item


def _letters(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())
