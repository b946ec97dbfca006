"""Grounding: an item stays in the notes only when the transcript says what it quotes."""

from __future__ import annotations

from integrations.synthesis.base import ActionItem, Evidence, NoteItem, Notes, Utterance
from integrations.synthesis.grounding import MAX_QUOTE_CHARS, ground

TRANSCRIPT = [
    Utterance(0, "Morning all. Let's get started.", "Ann Lee", 0.0, 4.0),
    Utterance(1, "Okay, so um — we\u2019ll ship the beta on Friday.", "Ann Lee", 4.0, 9.5),
    Utterance(2, "Right. And Bob, can you send the deck", "Cara Diaz", 9.5, 12.0),
    Utterance(3, "to the client before the 15th?", "Cara Diaz", 12.0, 14.0),
    Utterance(4, "I won't manage it until Monday, I'm afraid.", "Bob Kim", 14.0, 17.0),
    Utterance(5, "Who owns the pricing page?", "Ann Lee", 17.0, 19.0),
    Utterance(6, "We agreed the the colour scheme stays dark grey for the launch.", "Bob Kim"),
]


def decision(quote: str, *segment_ids: int) -> NoteItem:
    return NoteItem("A decision.", Evidence(segment_ids=segment_ids, quote=quote))


def grounded_decisions(*items: NoteItem) -> list[NoteItem]:
    return ground(Notes(summary="", key_decisions=list(items)), TRANSCRIPT).key_decisions


class TestGround:
    def test_a_fabricated_quote_is_dropped(self) -> None:
        notes = ground(
            Notes(summary="", key_decisions=[decision("We will cancel the beta entirely.", 1)]),
            TRANSCRIPT,
        )

        assert notes.key_decisions == []
        assert notes.dropped_items == 1

    def test_a_quote_with_changed_case_punctuation_and_apostrophes_is_kept(self) -> None:
        [kept] = grounded_decisions(decision('"We will ship the Beta on friday"', 1))

        assert kept.evidence == Evidence(
            segment_ids=(1,), quote="we\u2019ll ship the beta on Friday."
        )

    def test_the_transcripts_wording_is_stored_not_the_models(self) -> None:
        [kept] = grounded_decisions(decision("we agreed the color scheme stays dark gray", 6))

        assert kept.evidence is not None
        assert kept.evidence.quote == "We agreed the the colour scheme stays dark grey"

    def test_a_quote_without_fillers_and_stutters_is_kept(self) -> None:
        assert grounded_decisions(decision("Okay so we will ship the beta", 1))
        assert grounded_decisions(decision("we agreed the colour scheme stays dark grey", 6))

    def test_a_long_quote_may_leave_out_a_word(self) -> None:
        assert grounded_decisions(decision("we agreed the colour scheme stays grey for the", 6))

    def test_a_short_quote_must_be_word_for_word(self) -> None:
        assert not grounded_decisions(decision("ship the beta on Monday", 1))

    def test_an_added_negation_is_dropped(self) -> None:
        assert not grounded_decisions(decision("we will not ship the beta on Friday", 1))

    def test_a_negation_cut_off_a_contraction_is_dropped(self) -> None:
        said = [Utterance(0, "The new logo works, but the old one doesn't.")]
        quote = NoteItem("The old logo works.", Evidence((0,), "but the old one does"))

        assert not ground(Notes(summary="", key_decisions=[quote]), said).key_decisions

    def test_a_changed_number_is_dropped(self) -> None:
        assert not grounded_decisions(decision("send the deck to the client before the 16th", 2, 3))

    def test_a_quote_across_two_cited_segments_is_kept(self) -> None:
        [kept] = grounded_decisions(decision("can you send the deck to the client", 2, 3))

        assert kept.evidence == Evidence(
            segment_ids=(2, 3), quote="can you send the deck to the client"
        )

    def test_words_left_out_across_segments_are_stored_as_said(self) -> None:
        [kept] = grounded_decisions(decision("can you send to the client", 2, 3))

        assert kept.evidence is not None
        assert kept.evidence.quote == "can you send the deck to the client"

    def test_a_quote_across_segments_not_next_to_each_other_is_dropped(self) -> None:
        assert not grounded_decisions(decision("let's get started who owns the pricing page", 0, 5))

    def test_a_segment_far_from_the_quote_is_dropped(self) -> None:
        assert not grounded_decisions(decision("we will ship the beta on Friday", 5))

    def test_citing_the_next_segment_is_forgiven_and_corrected(self) -> None:
        [kept] = grounded_decisions(decision("we will ship the beta on Friday", 2))

        assert kept.evidence is not None
        assert kept.evidence.segment_ids == (1,)

    def test_an_unknown_segment_is_dropped(self) -> None:
        assert not grounded_decisions(decision("we will ship the beta on Friday", 1, 99))

    def test_an_item_without_evidence_is_dropped(self) -> None:
        assert not grounded_decisions(NoteItem("We ship on Friday."))
        assert not grounded_decisions(decision("we will ship the beta on Friday"))
        assert not grounded_decisions(decision(" … ", 1))

    def test_a_long_quote_is_cut_for_storage(self) -> None:
        said = " ".join(f"word{n} is said" for n in range(60))
        notes = ground(Notes(summary="", key_decisions=[decision(said, 0)]), [Utterance(0, said)])

        [kept] = notes.key_decisions
        assert kept.evidence is not None
        assert len(kept.evidence.quote) <= MAX_QUOTE_CHARS + 1
        assert kept.evidence.quote.endswith("…")
        assert said.startswith(kept.evidence.quote.removesuffix("…"))

    def test_every_kind_of_item_is_checked_and_the_drops_are_added_up(self) -> None:
        notes = Notes(
            summary="We ship on Friday.",
            key_decisions=[
                decision("we'll ship the beta on Friday", 1),
                decision("The launch moves to March.", 1),
            ],
            action_items=[
                ActionItem(
                    "Send the deck to the client.",
                    owner="Bob Kim",
                    due="Monday",
                    evidence=Evidence((2, 3), "Bob, can you send the deck to the client"),
                ),
                ActionItem("Book the venue.", owner="Ann Lee"),
            ],
            open_questions=[
                NoteItem("Who owns pricing?", Evidence((5,), "who owns the pricing page")),
                NoteItem("What about Europe?", Evidence((5,), "what about Europe")),
            ],
            key_topics=["beta"],
            dropped_items=2,
        )

        grounded = ground(notes, TRANSCRIPT)

        assert [item.text for item in grounded.key_decisions] == ["A decision."]
        assert [item.text for item in grounded.action_items] == ["Send the deck to the client."]
        assert grounded.action_items[0].owner == "Bob Kim"
        assert grounded.action_items[0].due == "Monday"
        assert [item.text for item in grounded.open_questions] == ["Who owns pricing?"]
        assert grounded.dropped_items == 2 + 3
        assert grounded.summary == notes.summary
        assert grounded.key_topics == notes.key_topics
