"""The rule-based synthesizer against meetings whose notes are known, and real transcripts."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from integrations.synthesis.base import (
    ActionItem,
    Attendee,
    MeetingContext,
    NoteItem,
    Notes,
    Utterance,
)
from integrations.synthesis.extractive import ExtractiveSynthesizer
from tests.corpus import CORPUS

SCRIPTED = ("launch-planning", "incident-review")
MIN_RECALL = 1.0
# Share of an expected item's content words a found item must contain. The expected notes
# are paraphrases ("$20,000" for "twenty thousand"), so exact comparison means nothing.
MIN_WORD_OVERLAP = 0.6

_NUMBERS = {
    "one": "1",
    "first": "1",
    "two": "2",
    "second": "2",
    "three": "3",
    "third": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_IGNORED = _words(
    """
    a an and are as at be by did do does for from in is it its of on or our so that the
    this to up us we what whether which with you your any only same there if will
    hundred thousand 000
    """
)


def _terms(text: str) -> set[str]:
    # Parentheses in the expected notes are clarifications nobody said aloud.
    text = re.sub(r"\([^)]*\)", " ", text.lower())
    terms: set[str] = set()
    for token in re.findall(r"[a-z]+|\d+", text):
        token = _NUMBERS.get(token, token)
        if token in _IGNORED:
            continue
        if len(token) > 4 and token.endswith(("ches", "shes", "xes")):
            token = token[:-2]
        elif len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        terms.add(token)
    return terms


def _same_item(expected: str, found: str) -> bool:
    wanted = _terms(expected)
    return len(wanted & _terms(found)) >= MIN_WORD_OVERLAP * len(wanted)


def _due_matches(expected: str | None, found: str | None) -> bool:
    if expected is None:
        return True
    words = " ".join(re.findall(r"[a-z]+", expected.lower()))
    return found is not None and words in " ".join(re.findall(r"[a-z]+", found.lower()))


def _recall(missing: list[Any], expected: list[Any]) -> float:
    return 1 - len(missing) / len(expected)


def _load(path: Path) -> Any:
    assert path.is_file(), f"test corpus missing: {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def _scripted(name: str) -> tuple[list[Utterance], list[str], dict[str, Any]]:
    meeting = _load(CORPUS / "scripted" / f"{name}.json")
    utterances = [
        Utterance(segment_id=i, text=t["text"], speaker=t["speaker"])
        for i, t in enumerate(meeting["turns"])
    ]
    participants = [p["name"] for p in meeting["participants"]]
    return utterances, participants, meeting["expected"]


def _qmsum_meetings() -> list[tuple[str, list[Utterance]]]:
    paths = sorted((CORPUS / "qmsum").glob("*.json"))
    assert paths, f"test corpus missing: {CORPUS / 'qmsum'}"
    return [
        (
            path.stem,
            [
                Utterance(segment_id=i, text=t["content"], speaker=t["speaker"])
                for i, t in enumerate(_load(path)["meeting_transcripts"])
            ],
        )
        for path in paths
    ]


def _synthesize(utterances: list[Utterance], participants: list[str] | None = None) -> Notes:
    meeting = MeetingContext(attendees=[Attendee(name) for name in participants or []])
    return ExtractiveSynthesizer().synthesize(utterances, meeting)


def _said(text: str, speaker: str | None = None) -> Utterance:
    return Utterance(segment_id=next(_SEGMENT_IDS), text=text, speaker=speaker)


_SEGMENT_IDS = itertools.count()


def _texts(items: Sequence[NoteItem]) -> list[str]:
    return [item.text for item in items]


class TestExtractiveSynthesizer:
    @pytest.mark.parametrize("name", SCRIPTED)
    def test_finds_expected_decisions(self, name: str) -> None:
        utterances, participants, expected = _scripted(name)

        notes = _synthesize(utterances, participants)

        missing = [
            want
            for want in expected["decisions"]
            if not any(_same_item(want, got.text) for got in notes.key_decisions)
        ]
        assert _recall(missing, expected["decisions"]) >= MIN_RECALL, (missing, notes)
        assert len(notes.key_decisions) <= len(expected["decisions"]) + 1, notes.key_decisions

    @pytest.mark.parametrize("name", SCRIPTED)
    def test_finds_expected_action_items_with_owner_and_due(self, name: str) -> None:
        utterances, participants, expected = _scripted(name)

        notes = _synthesize(utterances, participants)

        missing = [
            want
            for want in expected["action_items"]
            if not any(
                _same_item(want["text"], got.text)
                and got.owner == want["owner"]
                and _due_matches(want.get("due"), got.due)
                for got in notes.action_items
            )
        ]
        assert _recall(missing, expected["action_items"]) >= MIN_RECALL, (missing, notes)
        # A request and its confirmation are one task, not two.
        assert len(notes.action_items) <= len(expected["action_items"]) + 1, notes.action_items

    @pytest.mark.parametrize("name", SCRIPTED)
    def test_finds_expected_open_questions(self, name: str) -> None:
        utterances, participants, expected = _scripted(name)

        notes = _synthesize(utterances, participants)

        missing = [
            want
            for want in expected["open_questions"]
            if not any(_same_item(want, got.text) for got in notes.open_questions)
        ]
        assert _recall(missing, expected["open_questions"]) >= MIN_RECALL, (missing, notes)
        # Questions that got an answer ("Do we know which channel worked better?") stay out.
        assert len(notes.open_questions) <= len(expected["open_questions"]) + 1

    def test_announced_agenda_items_are_topics(self) -> None:
        utterances, participants, _ = _scripted("launch-planning")

        notes = _synthesize(utterances, participants)

        assert {"launch date", "beta feedback", "marketing budget"} <= set(notes.key_topics)
        assert len(notes.key_topics) == len(set(notes.key_topics)) <= 8
        assert all(topic == topic.lower() for topic in notes.key_topics)

    @pytest.mark.parametrize("name", SCRIPTED)
    def test_summary_states_purpose_and_outcomes(self, name: str) -> None:
        utterances, participants, expected = _scripted(name)

        notes = _synthesize(utterances, participants)

        sentences = re.split(r"(?<=[.!?]) (?=[A-Z0-9])", notes.summary)
        assert 2 <= len(sentences) <= 5, notes.summary
        assert f"{len(expected['action_items'])} action items" in notes.summary
        assert notes.provider == "extractive"
        assert notes.model is None

    @pytest.mark.parametrize("label", [None, "Speaker 1", "SPEAKER_00"])
    def test_unknown_speakers_leave_first_person_items_unowned(self, label: str | None) -> None:
        # Voices nobody named: no labels, or a diarizer that heard one voice throughout.
        utterances, participants, _ = _scripted("launch-planning")
        anonymous = [
            Utterance(segment_id=u.segment_id, text=u.text, speaker=label) for u in utterances
        ]

        notes = _synthesize(anonymous, participants)

        owners = {item.text: item.owner for item in notes.action_items}
        assert owners == {
            "Fix the token refresh bug": "Carol Singh",
            "Investigate the notification delays and write up what you find": "Bob Martinez",
            "Send the final media plan to the team": None,
        }

    def test_generalises_to_a_hiring_sync(self) -> None:
        participants = ["Maya Brooks", "Leo Fischer", "Sam Ortiz"]
        utterances = [
            _said(
                "Jordan aced the system design interview, so let's go with Jordan for the "
                "backend role.",
                "Maya Brooks",
            ),
            _said("Leo, could you send Jordan the offer letter by Thursday?", "Maya Brooks"),
            _said(
                "Sure, I will. Another open question is whether we open a second frontend "
                "role this quarter.",
                "Leo Fischer",
            ),
            _said("Nobody knows the budget yet, so that stays open.", "Sam Ortiz"),
        ]

        notes = _synthesize(utterances, participants)

        assert _texts(notes.key_decisions) == ["Go with Jordan for the backend role"]
        assert [(a.text, a.owner, a.due) for a in notes.action_items] == [
            ("Send Jordan the offer letter", "Leo Fischer", "Thursday")
        ]
        assert _texts(notes.open_questions) == [
            "Whether we open a second frontend role this quarter?"
        ]

    def test_reads_speech_recognition_run_ons_without_speakers(self) -> None:
        # Whisper joins what people say with commas and knows no speakers.
        utterances = [
            _said(
                "I prefer the photo. Let's use the photo on the main page, Peter, can you "
                "finish the main page layout before next Tuesday? Yes, I will finish it. Now "
                "the user survey, James, can you send the survey results to the team by Friday?"
            )
        ]

        notes = _synthesize(utterances, ["Emma Brown", "Peter Wilson", "James Miller"])

        assert _texts(notes.key_decisions) == ["Use the photo on the main page"]
        assert [(item.owner, item.due) for item in notes.action_items] == [
            ("Peter Wilson", "next Tuesday"),
            ("James Miller", "Friday"),
        ]

    def test_topics_are_noun_phrases_not_what_was_said_of_them(self) -> None:
        utterances = [
            _said("The venue budget stays open until Friday.", "Ann Lee"),
            _said("The venue budget also depends on the caterer.", "Bo Chen"),
            _said("Then the caterer question stays open too.", "Ann Lee"),
        ]

        topics = _synthesize(utterances).key_topics

        assert "venue budget" in topics
        assert not any(topic.endswith(("stays open", "open")) for topic in topics)

    @pytest.mark.parametrize(
        ("language", "turns", "topic"),
        [
            (
                "de",
                [
                    "Die Prüfung der Datenbank dauert länger als geplant.",
                    "Wer übernimmt die Prüfung der Datenbank?",
                    "Nach der Prüfung der Datenbank sind wir fertig.",
                ],
                "prüfung",
            ),
            (
                "fr",
                [
                    "La sécurité des données est très importante pour l'équipe.",
                    "L'équipe vérifie la sécurité des données chaque semaine.",
                    "Qui s'occupe de la sécurité des données?",
                ],
                "sécurité",
            ),
            (
                "es",
                [
                    "La campaña de publicidad costó más de lo previsto.",
                    "Necesitamos revisar la campaña de publicidad.",
                    "¿Quién paga la campaña de publicidad?",
                ],
                "campaña",
            ),
        ],
    )
    def test_topics_of_another_language_keep_accented_words_whole(
        self, language: str, turns: list[str], topic: str
    ) -> None:
        utterances = [
            _said(text, speaker) for text, speaker in zip(turns, ["Ana", "Bo", "Ana"], strict=True)
        ]
        meeting = MeetingContext(attendees=[Attendee("Ana"), Attendee("Bo")], language=language)

        topics = ExtractiveSynthesizer().synthesize(utterances, meeting).key_topics

        assert any(topic in t.split() for t in topics), topics
        words = {word for t in topics for word in t.split()}
        # No word cut at an accent ("pr", "fung"), no elided article ("l'équipe"), and the
        # language's function words ("der", "des", "la") are no topics.
        assert not any(len(word) < 3 or "'" in word for word in words), topics
        assert not words & {"der", "die", "des", "la", "de", "les"}, topics

    def test_hedges_refusals_and_agreement_are_not_commitments(self) -> None:
        utterances = [
            _said("I think I will rewrite the billing service next year.", "Ann Lee"),
            _said("I would put most of the budget into search ads.", "Ben Cho"),
            _said("I can't review the contract before the audit.", "Ann Lee"),
            _said("I agree. Ben, what did the vendor say about pricing?", "Ann Lee"),
            _said("They offered a ten percent discount on the annual plan.", "Ben Cho"),
        ]

        notes = _synthesize(utterances, ["Ann Lee", "Ben Cho"])

        assert notes.action_items == []
        assert _texts(notes.key_decisions) == []
        assert _texts(notes.open_questions) == []

    def test_empty_transcript_gives_empty_notes(self) -> None:
        for utterances in ([], [_said("  "), _said("...")]):
            notes = _synthesize(utterances)

            assert notes == Notes(summary="", provider="extractive", model=None)

    def test_runs_on_real_transcripts_deterministically(self) -> None:
        for name, utterances in _qmsum_meetings():
            notes = _synthesize(utterances)

            assert notes.summary.strip(), name
            assert all(d.text and d.evidence for d in notes.key_decisions), name
            assert all(q.text and q.evidence for q in notes.open_questions), name
            assert all(isinstance(t, str) and t for t in notes.key_topics), name
            for item in notes.action_items:
                assert isinstance(item, ActionItem), name
                assert item.text, name
                assert item.owner is None or isinstance(item.owner, str), name
                assert item.due is None or isinstance(item.due, str), name
            assert _synthesize(utterances) == notes, name


def _decided(*turns: tuple[str, str]) -> list[str]:
    return _texts(_synthesize([_said(text, speaker) for speaker, text in turns]).key_decisions)


def _left_open(*turns: tuple[str, str]) -> list[str]:
    return _texts(_synthesize([_said(text, speaker) for speaker, text in turns]).open_questions)


class TestRealTalk:
    """Real meetings rarely say "we decided": the rules for how they do, on sentences of
    the kinds real meetings use."""

    def test_a_wrap_up_by_the_chair_lists_the_decisions(self) -> None:
        decided = _decided(
            (
                "Ann",
                "Okay, we're nearly out of time. So if we go away with that: the newsletter "
                "goes out monthly, the signup form stays on the home page, and the old "
                "mailing list gets archived.",
            ),
            ("Ben", "Sounds right."),
        )

        assert decided == [
            "The newsletter goes out monthly, the signup form stays on the home page",
            "The old mailing list gets archived",
        ]

    def test_a_summing_up_gives_one_decision_per_point(self) -> None:
        decided = _decided(
            (
                "Ann",
                "To sum up, we keep the current supplier for paper, we switch the toner "
                "order to the cheaper vendor, and the shared printer moves to the second floor.",
            )
        )

        assert decided == [
            "We keep the current supplier for paper",
            "We switch the toner order to the cheaper vendor",
            "The shared printer moves to the second floor",
        ]

    def test_thats_decided_makes_what_the_speaker_just_said_the_decision(self) -> None:
        decided = _decided(
            ("Ben", "Maybe the blue one?"),
            ("Ann", "Blue cover with the white logo for the brochure."),
            ("Ben", "Hm, could be."),
            ("Ann", "Alright, that's decided."),
        )

        assert decided == ["Blue cover with the white logo for the brochure"]

    def test_a_conclusion_checked_and_agreed_is_a_decision_not_a_question(self) -> None:
        turns = [
            _said("So we're going with the smaller venue downtown?", "Ann"),
            _said("Yeah.", "Ben"),
            _said("Yeah, the smaller venue.", "Cleo"),
        ]

        notes = _synthesize(turns)

        assert _texts(notes.key_decisions) == ["The smaller venue downtown"]
        assert notes.open_questions == []

    def test_hedged_yeah_okay_acceptance_makes_a_proposal_a_decision(self) -> None:
        decided = _decided(
            ("Ben", "Why don't we move the standup to ten thirty?"),
            ("Ann", "Yeah, okay, I guess that works."),
            ("Cleo", "Fine by me."),
        )

        assert decided == ["Move the standup to ten thirty"]

    def test_hedged_agreement_still_agrees(self) -> None:
        decided = _decided(
            ("Ben", "What if we hold the offsite in Lisbon?"),
            ("Ann", "I guess so."),
            ("Cleo", "Why not."),
            ("Ben", "We could use the old projector for the demo."),
            ("Ann", "Mm, I suppose."),
            ("Cleo", "Could work."),
        )

        assert decided == ["Hold the offsite in Lisbon", "Use the old projector for the demo"]

    def test_the_chair_saying_what_things_will_be_decides_them(self) -> None:
        decided = _decided(
            ("Ann", "Okay, so the kickoff will be on the fourteenth in room B."),
            ("Ann", "Right, we'll stick with the current hosting provider."),
            ("Ann", "So that's decided then, the survey closes on the tenth."),
        )

        assert decided == [
            "The kickoff will be on the fourteenth in room B",
            "Stick with the current hosting provider",
            "The survey closes on the tenth",
        ]

    def test_the_chair_asking_the_room_to_agree_settles_it_when_they_do(self) -> None:
        agreed = _decided(
            ("Ann", "We take the yellow one for the cover, agreed?"),
            ("Ben", "Agreed."),
            ("Cleo", "Yes."),
        )
        refused = _decided(
            ("Ann", "We take the yellow one for the cover, agreed?"),
            ("Ben", "No, I don't like yellow."),
        )

        assert agreed == ["We take the yellow one for the cover"]
        assert refused == []

    def test_what_the_product_will_have_and_what_we_will_use_are_decisions(self) -> None:
        decided = _decided(
            ("Ann", "Okay, so the case will have rubber buttons on the side."),
            ("Ann", "We'll use the yellow sponge material for the case."),
            ("Ann", "We'll use the whiteboard for this."),
        )

        assert decided == [
            "The case will have rubber buttons on the side",
            "Use the yellow sponge material for the case",
        ]

    def test_going_with_an_option_decides_it_unless_hedged(self) -> None:
        decided = _decided(
            ("Ann", "We're going with the blue cover for the brochure."),
            ("Ann", "I think we're going for the cheaper printer."),
            ("Ben", "I'd go with the annual subscription plan."),
            ("Ann", "Deal."),
            ("Cleo", "I vote for the downtown office space."),
            ("Ann", "Yeah, let's go with that."),
        )

        assert decided == [
            "The blue cover for the brochure",
            "The annual subscription plan",
            "The downtown office space",
        ]

    def test_an_opinion_nodded_along_to_is_not_a_decision(self) -> None:
        decided = _decided(
            ("Ann", "I think we should maybe rewrite the billing service."),
            ("Ben", "Yeah."),
        )

        assert decided == []

    def test_an_option_said_back_by_another_speaker_is_taken(self) -> None:
        decided = _decided(
            ("Ann", "Recycled paper for the flyers."),
            ("Ben", "Recycled paper, yes."),
        )

        assert decided == ["Recycled paper for the flyers"]

    def test_an_option_asked_back_is_not_taken_up(self) -> None:
        decided = _decided(
            ("Ann", "Recycled paper for the flyers."),
            ("Ben", "Recycled paper?"),
        )

        assert decided == []

    def test_a_proposal_met_with_yeah_but_is_not_a_decision(self) -> None:
        decided = _decided(
            ("Ben", "How about a pop-up stand at the trade fair?"),
            ("Cleo", "Yeah but the cost is too high for us."),
            ("Ann", "Yeah."),
        )

        assert decided == []

    def test_filler_and_running_the_meeting_are_not_decisions(self) -> None:
        decided = _decided(
            ("Ann", "Yeah, okay."),
            ("Ben", "Right, let's see."),
            ("Ann", "Okay, let's move on to the next point."),
            ("Ben", "That's fine, that's fine."),
            ("Ann", "Let's have a look at the slides."),
            ("Ben", "Sounds good."),
            ("Ann", "We'll meet again after lunch."),
            ("Ben", "Great."),
            ("Cleo", "We could move on to the advanced features."),
            ("Ann", "Yeah, okay."),
        )

        assert decided == []

    def test_summing_up_a_topic_rating_or_moving_on_is_not_deciding(self) -> None:
        decided = _decided(
            ("Ann", "So to summarize the budget issue, costs went up again this quarter."),
            ("Ann", "And then we are going to the product evaluation."),
            ("Ben", "I'd say three, my old phone is pretty terrible."),
            ("Ann", "Yeah."),
            ("Cleo", "I suggest you make us the biggest player in the market."),
            ("Ann", "Yeah."),
            ("Ben", "Probably rubber buttons on the side."),
            ("Cleo", "Rubber buttons, yeah."),
        )

        assert decided == []

    def test_a_remark_nodded_along_to_is_not_a_decision(self) -> None:
        decided = _decided(
            ("Cleo", "The printer on the second floor is broken again."),
            ("Ann", "Yeah."),
            ("Ben", "Yeah, it is."),
        )

        assert decided == []

    def test_a_question_without_a_question_mark_left_unanswered_stays_open(self) -> None:
        left_open = _left_open(
            ("Ann", "So what do we do about the parking permits"),
            ("Ben", "I don't know."),
        )

        assert left_open == ["What do we do about the parking permits?"]

    def test_a_statement_with_a_question_mark_is_not_an_open_question(self) -> None:
        left_open = _left_open(
            ("Ann", "We ship the installer on Friday, right?"),
            ("Ben", "I'm not sure."),
            ("Ann", "So the launch moves to May?"),
            ("Cleo", "I don't know."),
        )

        assert left_open == []

    def test_a_question_put_off_for_later_stays_open(self) -> None:
        left_open = _left_open(
            ("Ann", "Where does the logo go on the packaging?"),
            ("Ben", "We'll decide that later."),
            ("Ann", "Who owns the vendor contract after March?"),
            ("Cleo", "Let's come back to that."),
        )

        assert left_open == [
            "Where does the logo go on the packaging?",
            "Who owns the vendor contract after March?",
        ]

    def test_a_good_question_nobody_answers_stays_open(self) -> None:
        left_open = _left_open(
            ("Ann", "Who renews the domain when Ben leaves?"),
            ("Ben", "Good question."),
        )

        assert left_open == ["Who renews the domain when Ben leaves?"]


class TestEvidence:
    @pytest.mark.parametrize("name", SCRIPTED)
    def test_every_item_quotes_the_segment_it_cites_verbatim(self, name: str) -> None:
        utterances, participants, _ = _scripted(name)

        self._assert_quotes_verbatim(utterances, _synthesize(utterances, participants))

    def test_real_meetings_are_quoted_as_transcribed_markup_and_all(self) -> None:
        for _, utterances in _qmsum_meetings():
            self._assert_quotes_verbatim(utterances, _synthesize(utterances))

    def test_a_long_wrap_up_is_quoted_where_each_point_is_said(self) -> None:
        wrap_up = _said(
            "Right, we are about done, thanks all for coming in so early today. So to sum up, "
            "the pilot runs in the Leeds office first, the rollout to every other office "
            "waits until the pilot has run for a month, and support tickets from the pilot "
            "go to Dana's queue.",
            "Ann",
        )

        notes = _synthesize([wrap_up])

        quotes = [item.evidence.quote for item in notes.key_decisions if item.evidence]
        assert len(quotes) == len(notes.key_decisions) == 3
        assert all(len(quote.split()) <= 25 for quote in quotes)
        assert "Leeds office" in quotes[0]
        assert "Dana's queue" in quotes[2]

    def _assert_quotes_verbatim(self, utterances: list[Utterance], notes: Notes) -> None:
        said = {u.segment_id: u.text for u in utterances}
        items: list[NoteItem | ActionItem] = [
            *notes.key_decisions,
            *notes.action_items,
            *notes.open_questions,
        ]
        assert items
        for item in items:
            assert item.evidence is not None, item
            assert item.evidence.quote, item
            assert len(item.evidence.quote.split()) <= 25, item
            assert any(item.evidence.quote in said[i] for i in item.evidence.segment_ids), item
