"""assign_speakers on hand-made transcripts: who said each word, segments cut between voices."""

from __future__ import annotations

from integrations.diarization.base import SpeakerTurn
from integrations.diarization.speakers import assign_speakers
from integrations.transcription.base import TranscribedSegment, Transcript, Word


def transcript(*segments: TranscribedSegment) -> Transcript:
    return Transcript(segments=segments, language="en", duration=60.0, provider="local")


def segment(text: str, *timed: tuple[str, float, float]) -> TranscribedSegment:
    words = tuple(Word(word, start, end) for word, start, end in timed)
    return TranscribedSegment(start=words[0].start, end=words[-1].end, text=text, words=words)


class TestAssignSpeakers:
    def test_each_segment_takes_the_voice_of_its_turn(self) -> None:
        result = assign_speakers(
            transcript(
                segment("Hello there.", ("Hello", 0.0, 0.4), ("there.", 0.5, 0.9)),
                segment("Hi.", ("Hi.", 1.5, 1.8)),
                segment("How are you?", ("How", 2.5, 2.7), ("are", 2.7, 2.8), ("you?", 2.8, 3.1)),
            ),
            [SpeakerTurn(0.0, 1.0, "B"), SpeakerTurn(1.2, 2.0, "A"), SpeakerTurn(2.2, 3.5, "B")],
        )

        assert [(s.speaker, s.text) for s in result.segments] == [
            ("Speaker 1", "Hello there."),
            ("Speaker 2", "Hi."),
            ("Speaker 1", "How are you?"),
        ]

    def test_a_segment_spanning_a_change_of_voice_is_cut_at_the_first_word_of_the_new_one(
        self,
    ) -> None:
        original = TranscribedSegment(
            start=10.0,
            end=14.2,
            text="It costs $40,000 total. Agreed, let's go.",
            words=(
                Word("It", 10.1, 10.3),
                Word("costs", 10.3, 10.7),
                Word("$40", 10.8, 11.3),
                Word(",000", 11.3, 11.6),
                Word("total.", 11.6, 12.0),
                Word("Agreed,", 12.6, 13.1),
                Word("let's", 13.2, 13.5),
                Word("go.", 13.5, 14.0),
            ),
        )

        result = assign_speakers(
            transcript(original), [SpeakerTurn(9.0, 12.2, "x"), SpeakerTurn(12.4, 15.0, "y")]
        )

        first, second = result.segments
        assert (first.speaker, first.text, first.start, first.end) == (
            "Speaker 1",
            "It costs $40,000 total.",
            10.0,
            12.0,
        )
        assert (second.speaker, second.text, second.start, second.end) == (
            "Speaker 2",
            "Agreed, let's go.",
            12.6,
            14.2,
        )
        assert first.words + second.words == original.words

    def test_a_word_goes_to_the_turn_it_overlaps_most(self) -> None:
        # "yes" straddles the boundary at 1.0 but mostly lies in the second turn.
        result = assign_speakers(
            transcript(segment("no yes", ("no", 0.2, 0.6), ("yes", 0.9, 1.4))),
            [SpeakerTurn(0.0, 1.0, "a"), SpeakerTurn(1.0, 2.0, "b")],
        )

        assert [(s.speaker, s.text) for s in result.segments] == [
            ("Speaker 1", "no"),
            ("Speaker 2", "yes"),
        ]

    def test_a_word_outside_every_turn_goes_to_the_nearest(self) -> None:
        result = assign_speakers(
            transcript(segment("so then", ("so", 4.0, 4.2), ("then", 8.6, 8.9))),
            [SpeakerTurn(0.0, 3.0, "a"), SpeakerTurn(9.0, 12.0, "b")],
        )

        assert [(s.speaker, s.text) for s in result.segments] == [
            ("Speaker 1", "so"),
            ("Speaker 2", "then"),
        ]

    def test_speakers_are_numbered_in_the_order_they_first_speak(self) -> None:
        result = assign_speakers(
            transcript(
                segment("One.", ("One.", 5.0, 5.5)),
                segment("Two.", ("Two.", 6.0, 6.5)),
                segment("Three.", ("Three.", 7.0, 7.5)),
            ),
            # The first turn's voice says nothing the transcript kept.
            [
                SpeakerTurn(0.0, 4.0, "v0"),
                SpeakerTurn(4.8, 5.7, "v1"),
                SpeakerTurn(5.8, 6.7, "v2"),
                SpeakerTurn(6.8, 7.7, "v1"),
            ],
        )

        assert [s.speaker for s in result.segments] == ["Speaker 1", "Speaker 2", "Speaker 1"]

    def test_a_segment_without_words_goes_whole_to_the_turn_it_overlaps_most(self) -> None:
        bare = TranscribedSegment(start=2.0, end=6.0, text="A platform's line.")

        result = assign_speakers(
            transcript(bare), [SpeakerTurn(0.0, 3.0, "a"), SpeakerTurn(3.0, 7.0, "b")]
        )

        assert result.segments == (
            TranscribedSegment(start=2.0, end=6.0, text="A platform's line.", speaker="Speaker 1"),
        )

    def test_words_not_found_in_the_text_are_joined_by_spaces(self) -> None:
        mismatched = TranscribedSegment(
            start=0.0,
            end=2.0,
            text="Okay sure",
            words=(Word("OK", 0.0, 0.5), Word("sure", 1.5, 2.0)),
        )

        result = assign_speakers(
            transcript(mismatched), [SpeakerTurn(0.0, 1.0, "a"), SpeakerTurn(1.0, 2.0, "b")]
        )

        assert [s.text for s in result.segments] == ["OK", "sure"]

    def test_without_turns_the_transcript_is_unchanged(self) -> None:
        original = transcript(segment("Hello.", ("Hello.", 0.0, 0.5)))

        assert assign_speakers(original, []) is original
