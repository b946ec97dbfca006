"""Hearing an action item reported done, or repeated, in a later meeting's words."""

from __future__ import annotations

import uuid

import pytest

from integrations.action_items import Said, item_id, item_key, repeats, reports_done

TASK = "Send the survey results to the team"
OWNER = "James Miller"


def done(text: str, speaker: str | None = "James Miller", task: str = TASK) -> str | None:
    found = reports_done(task, OWNER, [Said(text, speaker)])
    return found.text if found else None


class TestReportsDone:
    @pytest.mark.parametrize(
        ("text", "speaker"),
        [
            ("I sent the survey results to the team on Tuesday.", "James Miller"),
            ("The survey results went out on Monday.", "Emma Brown"),
            ("Done with the survey results.", "James Miller"),
            ("James sent the survey results yesterday.", "Emma Brown"),
            ("Quick update: survey results are out, and the team has them.", None),
        ],
    )
    def test_past_forms_and_words_of_completion(self, text: str, speaker: str | None) -> None:
        assert done(text, speaker) is not None

    @pytest.mark.parametrize(
        ("task", "text"),
        [
            ("Update the style guide", "I updated the style guide over the weekend."),
            ("Write the release notes", "I wrote the release notes."),
            ("Buy the conference tickets", "The conference tickets are bought."),
            ("Finish the main page layout", "The main page layout is finished."),
        ],
    )
    def test_any_verb_in_its_past_forms(self, task: str, text: str) -> None:
        assert reports_done(task, OWNER, [Said(text, OWNER)]) is not None

    @pytest.mark.parametrize(
        ("text", "speaker"),
        [
            ("I have not sent the survey results yet.", "James Miller"),
            ("I didn't send the survey results.", "James Miller"),
            ("Did you send the survey results?", "Emma Brown"),
            ("I will send the survey results tomorrow.", "James Miller"),
            ("Let us talk about the survey results.", "Emma Brown"),
            # Someone else's deed of their own, not the owner's.
            ("I sent the survey results.", "Maria Lopez"),
            # Another deed on another thing.
            ("I sent the invoice to the client.", "James Miller"),
        ],
    )
    def test_not_done(self, text: str, speaker: str) -> None:
        assert done(text, speaker) is None

    def test_the_sentence_that_says_it_is_given_back(self) -> None:
        said = "Morning all. I sent the survey results to the team. Next is the budget."

        assert done(said) == "I sent the survey results to the team."


class TestRepeats:
    def test_the_same_deed_in_other_words_repeats(self) -> None:
        assert repeats(TASK, "Send the survey results") > 0
        assert repeats("Update the style guide", "update the Style Guide") > 0

    def test_another_deed_on_the_same_thing_does_not(self) -> None:
        assert repeats(TASK, "Review the survey results") == 0
        assert repeats("Update the style guide", "Send the invoice") == 0


class TestKeys:
    def test_an_item_keeps_its_id_when_the_notes_are_written_again(self) -> None:
        meeting = uuid.uuid4()
        key = item_key("james@example.com", "Send the survey results, to the team")

        assert key == item_key("james@example.com", "send the survey results to the team")
        assert item_id(meeting, key) == item_id(meeting, key)
        assert item_id(meeting, key) != item_id(uuid.uuid4(), key)
        assert key != item_key("maria@example.com", TASK)
