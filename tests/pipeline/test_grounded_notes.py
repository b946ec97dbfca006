"""Grounding through the pipeline: the notes PostgreSQL keeps are the ones the transcript
says, and `show` tells when and by whom."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from integrations.audio_sources import AudioSources
from integrations.diarization.transcriber import DiarizingTranscriber
from integrations.synthesis.base import (
    ActionItem,
    Evidence,
    MeetingContext,
    NoteItem,
    Notes,
    Synthesizer,
    Utterance,
)
from integrations.synthesis.extractive import ExtractiveSynthesizer
from integrations.transcription.local import LocalWhisperTranscriber
from integrations.transcription.platform import PlatformTranscripts
from pipeline import stages
from pipeline.intake import create_conversation
from pipeline.presenters import conversation_document, show_markdown
from pipeline.providers import synthesis_chain
from repositories.database import UnitOfWork
from repositories.models import Conversation
from tests import factories

VTT = """WEBVTT

00:05:13.000 --> 00:05:18.000
<v Maria Rossi>Okay, so — we\u2019ll go with the dark grey case for the launch.</v>

00:05:18.500 --> 00:05:22.000
<v Tom Berg>Fine by me. Maria, can you send the final renders</v>

00:05:22.000 --> 00:05:25.000
<v Tom Berg>to the factory by Friday?</v>

00:05:25.500 --> 00:05:28.000
<v Maria Rossi>Sure. Do we still need the rubber buttons?</v>
"""


class NotesModel:
    """A language model's answer, as one comes back: some items quote the transcript
    loosely, one cites the segment next to its quote, and two were made up."""

    name = "model"

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        return Notes(
            summary="The case stays dark grey.",
            key_decisions=[
                NoteItem(
                    "The case is dark grey.",
                    Evidence((0,), "We will go with the dark grey case for the launch"),
                ),
                NoteItem("The case is blue.", Evidence((0,), "we go with the blue case")),
            ],
            action_items=[
                ActionItem(
                    "Send the renders to the factory.",
                    owner="Maria Rossi",
                    due="Friday",
                    evidence=Evidence((1, 2), "can you send the final renders to the factory"),
                ),
                ActionItem("Order samples.", evidence=Evidence((7,), "order the samples")),
            ],
            open_questions=[
                NoteItem(
                    "Are rubber buttons still needed?",
                    Evidence((2,), "do we still need the rubber buttons"),
                )
            ],
            provider=self.name,
        )


@pytest.fixture
def meeting_file(tmp_path: Path) -> Path:
    path = tmp_path / "design-review.vtt"
    path.write_text(VTT, encoding="utf-8")
    return path


def processed(uow: UnitOfWork, path: Path, synthesizer: Synthesizer) -> Conversation:
    conversation_id = create_conversation(uow, source_uri=str(path), title="Design review")
    sources = AudioSources([path.parent])
    # A transcript file: the transcriber is never asked.
    stages.transcribe(
        conversation_id,
        uow=uow,
        transcriber=PlatformTranscripts(DiarizingTranscriber(LocalWhisperTranscriber(), None)),
        sources=sources,
    )
    stages.synthesize(conversation_id, uow=uow, synthesizer=synthesis_chain([synthesizer]))
    with uow:
        conversation = uow.conversations.get_with_transcript(conversation_id)
    assert conversation is not None
    assert conversation.synthesis is not None
    return conversation


def stored_items(conversation: Conversation) -> list[dict[str, Any]]:
    notes = conversation.synthesis
    assert notes is not None
    return [*notes.key_decisions, *notes.action_items, *notes.open_questions]


def assert_every_item_is_said(conversation: Conversation) -> None:
    """Each stored item cites segments that follow one another, and its quote is their
    text, word for word."""
    said = {segment.position: segment.text for segment in conversation.segments}
    for item in stored_items(conversation):
        evidence = item["evidence"]
        cited = evidence["segment_ids"]
        assert cited == list(range(cited[0], cited[-1] + 1)), item
        assert evidence["quote"] in " ".join(said[position] for position in cited), item


class TestGroundedNotes:
    def test_only_items_the_transcript_says_are_stored(
        self, uow: UnitOfWork, meeting_file: Path
    ) -> None:
        conversation = processed(uow, meeting_file, NotesModel())

        assert_every_item_is_said(conversation)
        notes = conversation.synthesis
        assert notes is not None
        assert [item["text"] for item in stored_items(conversation)] == [
            "The case is dark grey.",
            "Send the renders to the factory.",
            "Are rubber buttons still needed?",
        ]
        assert notes.dropped_items == 2
        assert notes.key_decisions[0]["evidence"] == {
            "segment_ids": [0],
            "quote": "we\u2019ll go with the dark grey case for the launch.",
        }
        assert notes.action_items[0]["evidence"]["segment_ids"] == [1, 2]
        # Cited one segment off: stored as where it was said.
        assert notes.open_questions[0]["evidence"]["segment_ids"] == [3]

    def test_the_extractive_notes_are_all_grounded(
        self, uow: UnitOfWork, meeting_file: Path
    ) -> None:
        conversation = processed(uow, meeting_file, ExtractiveSynthesizer())

        assert stored_items(conversation)
        assert_every_item_is_said(conversation)
        assert conversation.synthesis is not None
        assert conversation.synthesis.dropped_items == 0


class TestShow:
    def test_markdown_gives_each_item_its_time_speaker_and_words(
        self, uow: UnitOfWork, meeting_file: Path
    ) -> None:
        markdown = show_markdown(processed(uow, meeting_file, NotesModel()))

        assert (
            "- [00:05:13] The case is dark grey. — Maria Rossi: "
            '"we\u2019ll go with the dark grey case for the launch."'
        ) in markdown
        assert (
            "- [00:05:18] Send the renders to the factory. (Maria Rossi, due Friday) — "
            'Tom Berg: "can you send the final renders to the factory"'
        ) in markdown
        assert "- [00:05:25] Are rubber buttons still needed? — Maria Rossi:" in markdown
        assert "blue" not in markdown

    def test_json_gives_each_item_its_evidence_start_and_speaker(
        self, uow: UnitOfWork, meeting_file: Path
    ) -> None:
        notes = conversation_document(processed(uow, meeting_file, NotesModel()))["notes"]

        [decision] = notes["key_decisions"]
        assert decision["evidence"]["segment_ids"] == [0]
        assert (decision["start"], decision["speaker"]) == (313.0, "Maria Rossi")
        [action] = notes["action_items"]
        assert (action["owner"], action["start"], action["speaker"]) == (
            "Maria Rossi",
            318.5,
            "Tom Berg",
        )
        assert notes["dropped_items"] == 2

    def test_notes_from_before_evidence_still_read(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow, title="Old notes")
        factories.segments(uow, conversation_id, "We ship on Friday.")
        factories.synthesis(
            uow,
            conversation_id,
            key_decisions=[{"text": "Ship on Friday.", "evidence": None}],
            action_items=[
                {
                    "text": "Write the notes.",
                    "owner": "Bo",
                    "owner_email": None,
                    "due": None,
                    "due_date": None,
                    "evidence": None,
                }
            ],
        )
        with uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
        assert conversation is not None

        markdown = show_markdown(conversation)
        notes = conversation_document(conversation)["notes"]

        assert "- Ship on Friday.\n" in markdown
        assert "- Write the notes. (Bo)\n" in markdown
        assert notes["key_decisions"] == [
            {"text": "Ship on Friday.", "evidence": None, "start": None, "speaker": None}
        ]
        assert notes["action_items"][0]["start"] is None
