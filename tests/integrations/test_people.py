"""Who a person is: names compared, keyed and matched to a meeting's people."""

from __future__ import annotations

import pytest

from integrations.people import (
    Roster,
    is_role,
    is_speaker_name,
    normalize_email,
    person_key,
)

ROLES = (
    "Project Manager",
    "PM",
    "Marketing",
    "Industrial Designer",
    "User Interface",
    "CEO",
    "Head of Sales",
    "SPEAKER_01",
    "Speaker 2",
    "marketing expert",
)
LABELS = (
    "Jane Doe",
    "Jane Doe (she/her)",
    "PM",
    "Project Manager",
    "Guest 2",
    "SPEAKER_01",
    "Ludwig van Beethoven",
    "O'Brien, Pat",
)
ATTENDEES = ["Carol Singh", "Dave Ng", "Ann Lee", "Ann Ho", "José García", "Project Manager"]


class TestPersonKey:
    def test_an_email_is_the_key_lower_cased(self) -> None:
        assert person_key("Carol Singh", " Carol@Example.com ") == "carol@example.com"

    def test_without_an_email_the_normalized_name(self) -> None:
        assert person_key("  José  GARCÍA ") == person_key("jose garcia") == "name:jose garcia"
        assert person_key("Ann Lee", "  ") == "name:ann lee"

    def test_a_blank_email_is_none(self) -> None:
        assert normalize_email("") is None
        assert normalize_email(None) is None


class TestIsRole:
    @pytest.mark.parametrize(
        "name",
        ROLES,
    )
    def test_roles_and_anonymous_voices(self, name: str) -> None:
        assert is_role(name)

    @pytest.mark.parametrize("name", ["Carol Singh", "Grant Head", "Mark", "Sales Lee", "Ann"])
    def test_names_are_no_roles(self, name: str) -> None:
        assert not is_role(name)


class TestRosterMatch:
    @pytest.mark.parametrize(
        ("said", "who"),
        [
            ("Carol Singh", "Carol Singh"),
            ("carol singh", "Carol Singh"),
            ("  CAROL   SINGH ", "Carol Singh"),
            ("Carol", "Carol Singh"),
            ("Singh", "Carol Singh"),
            ("Ms. Singh", "Carol Singh"),
            ("Dr Carol Singh", "Carol Singh"),
            ("jose garcia", "José García"),
            ("Mr. Garcia", "José García"),
            ("Dave", "Dave Ng"),
            ("Project Manager", "Project Manager"),
            ("PM", "Project Manager"),
        ],
    )
    def test_a_said_name_is_the_attendee_it_names(self, said: str, who: str) -> None:
        assert Roster(ATTENDEES).match(said) == who

    @pytest.mark.parametrize(
        "said", ["Ann", "Bob", "Bob Singh", "Manager", "Project", "Marketing", "", "Carol Ng"]
    )
    def test_a_shared_or_unknown_name_or_part_of_a_role_is_nobody(self, said: str) -> None:
        assert Roster(ATTENDEES).match(said) is None

    def test_fuzzy_takes_near_identical_spellings_only(self) -> None:
        roster = Roster(["Katharine Wu", "Carol Singh"])
        assert roster.match("Katherine") is None
        assert roster.match("Katherine", fuzzy=True) == "Katharine Wu"
        assert roster.match("Katherine Wu", fuzzy=True) == "Katharine Wu"
        assert roster.match("Carl Singh", fuzzy=True) == "Carol Singh"
        assert roster.match("Caroline Smith", fuzzy=True) is None
        assert roster.match("Kat", fuzzy=True) is None  # too short to tell

    def test_fuzzy_takes_no_one_of_two_spelled_alike(self) -> None:
        roster = Roster(["Alexandra Wu", "Alexandre Ode"])
        assert roster.match("Alexandr", fuzzy=True) is None
        assert roster.match("Alexandr Wu", fuzzy=True) == "Alexandra Wu"

    def test_fuzzy_never_makes_a_role_a_person(self) -> None:
        assert Roster(["Marketa Novak"]).match("Marketing", fuzzy=True) is None

    def test_a_shared_first_name_stays_nobody_even_fuzzily(self) -> None:
        roster = Roster(["Joanna Lee", "Joanna Ho"])
        assert roster.match("Joanna", fuzzy=True) is None
        assert roster.match("Joanne", fuzzy=True) is None

    def test_common_words_alone_are_no_ones_name(self) -> None:
        roster = Roster(["Will Smith", "Grant"], common_words={"will", "grant"})
        assert roster.match("Will") is None
        assert roster.match("Grant") is None
        assert roster.match("Will Smith") == "Will Smith"

    def test_name_for_keeps_what_matches_nobody_as_said(self) -> None:
        roster = Roster(ATTENDEES)
        assert roster.name_for("carol") == "Carol Singh"
        assert roster.name_for(" Marketing  Expert ") == "Marketing Expert"


class TestIsSpeakerName:
    @pytest.mark.parametrize(
        "label",
        LABELS,
    )
    def test_labels_that_name_someone(self, label: str) -> None:
        assert is_speaker_name(label)

    @pytest.mark.parametrize("label", ["Action items are in the doc", "2 things", "note (x"])
    def test_text_before_a_colon_that_names_nobody(self, label: str) -> None:
        assert not is_speaker_name(label)
