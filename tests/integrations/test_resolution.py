"""Action items' owners and due dates resolved against the meeting."""

from __future__ import annotations

from datetime import UTC, date, datetime

from integrations.synthesis.base import (
    ActionItem,
    Attendee,
    Evidence,
    MeetingContext,
    Notes,
    Utterance,
)
from integrations.synthesis.resolution import resolve_owners_and_dates

MEETING = MeetingContext(
    title="Launch sync",
    attendees=[
        Attendee("Carol Singh", "Carol.Singh@example.com", is_organizer=True),
        Attendee("Dave Ng"),
        Attendee("Ann Lee", "ann.lee@example.com"),
        Attendee("Ann Ho", "ann.ho@example.com"),
    ],
    started_at=datetime(2026, 3, 4, 10, 30, tzinfo=UTC),  # a Wednesday
)
UTTERANCES = [
    Utterance(0, "Let's get the launch sorted.", "Carol Singh", 0.0, 3.0),
    Utterance(1, "I'll send the deck by Friday.", "Carol", 3.0, 6.0),
    Utterance(2, "I can take the budget review.", "Dave Ng", 6.0, 9.0),
    Utterance(3, "Carol, send me the numbers.", "SPEAKER_03", 9.0, 12.0),
    Utterance(4, "I will book the room.", "Project Manager", 12.0, 15.0),
]


def _resolved(*items: ActionItem, meeting: MeetingContext = MEETING) -> list[ActionItem]:
    notes = Notes(summary="", action_items=list(items))
    return resolve_owners_and_dates(notes, UTTERANCES, meeting).action_items


def _cited(segment: int) -> Evidence:
    return Evidence(segment_ids=(segment,), quote=UTTERANCES[segment].text)


class TestOwners:
    def test_a_first_person_commitment_is_owned_by_its_speaker(self) -> None:
        [by_i, unnamed] = _resolved(
            ActionItem("Send the deck", owner="I", evidence=_cited(1)),
            ActionItem("Review the budget", owner=None, evidence=_cited(2)),
        )
        # The speaker "Carol" is the attendee Carol Singh, with her address.
        assert (by_i.owner, by_i.owner_email) == ("Carol Singh", "carol.singh@example.com")
        assert (unnamed.owner, unnamed.owner_email) == ("Dave Ng", None)

    def test_me_and_the_speaker_are_whoever_said_it(self) -> None:
        items = _resolved(
            ActionItem("Book the room", owner="me", evidence=_cited(4)),
            ActionItem("Send the deck", owner="the speaker", evidence=_cited(1)),
        )
        assert [(item.owner, item.owner_email) for item in items] == [
            ("Project Manager", None),
            ("Carol Singh", "carol.singh@example.com"),
        ]

    def test_a_request_is_not_the_speakers_own(self) -> None:
        [item] = _resolved(ActionItem("Send the numbers", owner=None, evidence=_cited(3)))
        assert item.owner is None

    def test_a_said_first_name_is_the_attendees_full_name(self) -> None:
        [item] = _resolved(ActionItem("Send the deck", owner="carol"))
        assert (item.owner, item.owner_email) == ("Carol Singh", "carol.singh@example.com")

    def test_a_title_and_surname_or_a_near_spelling_is_the_attendee(self) -> None:
        items = _resolved(
            ActionItem("Send the deck", owner="Ms. Singh"),
            ActionItem("Review the budget", owner="Dave Ngg"),
        )
        assert [item.owner for item in items] == ["Carol Singh", "Dave Ng"]

    def test_a_shared_first_name_resolves_to_nobody_and_stays_as_said(self) -> None:
        [item] = _resolved(ActionItem("Draft the post", owner="Ann"))
        assert (item.owner, item.owner_email) == ("Ann", None)

    def test_a_role_stays_as_said(self) -> None:
        [role, acronym] = _resolved(
            ActionItem("Book the room", owner="Marketing Expert"),
            ActionItem("Chair the review", owner="QA"),
        )
        assert (role.owner, role.owner_email) == ("Marketing Expert", None)
        assert (acronym.owner, acronym.owner_email) == ("QA", None)

    def test_someone_not_at_the_meeting_keeps_the_name_and_gets_no_address(self) -> None:
        [item] = _resolved(ActionItem("Sign off", owner="Erin Park", owner_email="erin@x.test"))
        assert (item.owner, item.owner_email) == ("Erin Park", None)

    def test_an_attendees_address_tells_which_of_two_namesakes(self) -> None:
        [item] = _resolved(
            ActionItem("Draft the post", owner="Ann", owner_email="Ann.Ho@example.com")
        )
        assert (item.owner, item.owner_email) == ("Ann Ho", "ann.ho@example.com")

    def test_the_whole_team_is_no_single_owner(self) -> None:
        items = _resolved(
            ActionItem("Test the build", owner="we"),
            ActionItem("Read the spec", owner="Everyone"),
            ActionItem("Fix the flaky test", owner="the team"),
        )
        assert [(item.owner, item.owner_email) for item in items] == [(None, None)] * 3


class TestDueDates:
    def test_the_phrase_is_kept_and_resolved_from_the_meetings_start(self) -> None:
        items = _resolved(
            ActionItem("Send the deck", due="by Friday"),
            ActionItem("Close the books", due="end of the month"),
            ActionItem("Ship it", due="when it is ready"),
            ActionItem("Nothing said"),
        )
        assert [(item.due, item.due_date) for item in items] == [
            ("by Friday", date(2026, 3, 6)),
            ("end of the month", date(2026, 3, 31)),
            ("when it is ready", None),
            (None, None),
        ]

    def test_a_meeting_whose_start_is_unknown_resolves_no_dates(self) -> None:
        unknown = MeetingContext(attendees=MEETING.attendees)
        [item] = _resolved(ActionItem("Send the deck", due="Friday"), meeting=unknown)
        assert (item.due, item.due_date) == ("Friday", None)

    def test_everything_else_of_the_notes_is_kept(self) -> None:
        evidence = _cited(1)
        notes = Notes(
            summary="Launch.",
            action_items=[ActionItem("Send the deck", owner="I", due="EOW", evidence=evidence)],
            key_topics=["launch"],
            provider="openai",
            dropped_items=2,
        )
        resolved = resolve_owners_and_dates(notes, UTTERANCES, MEETING)
        assert (resolved.summary, resolved.key_topics, resolved.provider) == (
            "Launch.",
            ["launch"],
            "openai",
        )
        assert resolved.dropped_items == 2
        [item] = resolved.action_items
        assert (item.text, item.evidence, item.due_date) == (
            "Send the deck",
            evidence,
            date(2026, 3, 6),
        )
