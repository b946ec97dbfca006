"""Notes checked against the transcript: an item stays only when its quote was said.

Every decision, action item and open question cites segments and quotes them. The quote
is looked for, word by word, in the cited segments' text (consecutive cited segments
read as one passage, so a quote may run from one into the next). Both sides are
normalised first, so the differences a faithful quotation makes do not count: case,
punctuation, spacing, typographic quotes and dashes, contractions ("we'll" is "we will"),
spoken fillers ("um", "uh"), stutters ("the the") and what a transcriber notes rather
than hears ("[laughter]"). What is left must line up in order, with a little slack that
grows with the quote's length:

- a quote's own words missing from the passage (invented or changed): at most one in
  `_WORDS_PER_CHANGE`, so a short quote must be word for word;
- words of the passage the quote leaves out (a model shortening an aside): at most
  1 + one in `_WORDS_PER_OMISSION`;
- a negation or a number is never slack: "we will not ship" is not a small change of
  "we will ship", nor "the 16th" of "the 15th".

A word counts as found when it is spelled within `_SPELLING_SIMILARITY` of the
passage's word (British or American spelling, a transcription's slip), for words long
enough that one letter does not make another word.

A model that cites the segment next to the one it quotes (counting from one, or the
sentence ran on) is forgiven: the quote is looked for one segment either side too, and
the evidence then names the segments where it was found. What is stored is the
transcript's own wording of the matched passage, cut to `MAX_QUOTE_CHARS`, and the
segments it spans.

bench/grounding.py measures these limits on quotes drawn from real meetings: every
faithful quote and 98% of those leaving out a word are kept; 6% of short quotes with a
word changed and 0.5% of quotes from another segment (everyday phrases said in both).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TypeVar

from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from integrations.synthesis.base import ActionItem, Evidence, NoteItem, Notes, Utterance

MAX_QUOTE_CHARS = 200
_WORDS_PER_CHANGE = 8
_WORDS_PER_OMISSION = 4
# rapidfuzz ratio of two words: "colour"/"color" is 91, "organise"/"organize" 88;
# "ship"/"shop" (75) and "Monday"/"Sunday" (67) stay different words.
_SPELLING_SIMILARITY = 85
_MIN_FUZZY_WORD_CHARS = 5

# A word with its inner apostrophes, in any of the apostrophes transcripts use.
_WORD = re.compile(r"[^\W_]+(?:['\u2019\u02bc\u2018`][^\W_]+)*")
# What a transcriber notes rather than hears: "[laughter]", "{vocalsound}", "[inaudible]".
_ANNOTATION = re.compile(r"\[[^\]]*\]|\{[^}]*\}")
_SPACE = re.compile(r"\s")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'", "`": "'"})
_FILLERS = frozenset({"um", "umm", "uh", "uhm", "erm", "er", "hmm", "mm", "mhm", "ah", "eh"})
_NEGATIONS = frozenset(
    {"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "nowhere"}
)
_WHOLE_WORDS: Mapping[str, tuple[str, ...]] = {
    "won't": ("will", "not"),
    "can't": ("can", "not"),
    "cannot": ("can", "not"),
    "shan't": ("shall", "not"),
    "let's": ("let", "us"),
    "gonna": ("going", "to"),
    "wanna": ("want", "to"),
    "gotta": ("got", "to"),
    "ok": ("okay",),
    "alright": ("all", "right"),
}
_SUFFIXES: Sequence[tuple[str, str]] = (
    ("n't", "not"),
    ("'ll", "will"),
    ("'re", "are"),
    ("'ve", "have"),
    ("'m", "am"),
    ("'d", "would"),
)
# "'s" is "is" only after these; elsewhere it is a possessive ("Maria's deck").
_IS_AFTER = frozenset(
    {"it", "that", "there", "here", "what", "who", "where", "when", "how", "he", "she"}
)


@dataclass(frozen=True, slots=True)
class _Word:
    """A normalised word, and where the transcript says it."""

    text: str
    segment_id: int
    start: int  # in the segment's own text
    end: int


def ground(notes: Notes, utterances: Sequence[Utterance]) -> Notes:
    """`notes` with only the items whose evidence checks out against `utterances`, each
    quote replaced by the transcript's own words; the others are counted in
    `dropped_items`."""
    transcript = _Transcript(utterances)
    decisions = _grounded(notes.key_decisions, transcript)
    action_items = _grounded(notes.action_items, transcript)
    questions = _grounded(notes.open_questions, transcript)
    dropped = (
        len(notes.key_decisions)
        + len(notes.action_items)
        + len(notes.open_questions)
        - len(decisions)
        - len(action_items)
        - len(questions)
    )
    return replace(
        notes,
        key_decisions=decisions,
        action_items=action_items,
        open_questions=questions,
        dropped_items=notes.dropped_items + dropped,
    )


_Item = TypeVar("_Item", NoteItem, ActionItem)


def _grounded(items: Iterable[_Item], transcript: _Transcript) -> list[_Item]:
    kept = []
    for item in items:
        if item.evidence is None:
            continue
        evidence = transcript.check(item.evidence)
        if evidence is not None:
            kept.append(replace(item, evidence=evidence))
    return kept


class _Transcript:
    """The utterances by segment id, each normalised once, when first cited."""

    def __init__(self, utterances: Sequence[Utterance]) -> None:
        self._texts = {utterance.segment_id: utterance.text for utterance in utterances}
        self._words: dict[int, list[_Word]] = {}

    def check(self, evidence: Evidence) -> Evidence | None:
        """The evidence as the transcript says it, or None when it does not."""
        cited = set(evidence.segment_ids)
        if not cited or not cited <= self._texts.keys():
            return None
        quote = [word for word, _, _ in _normalised(evidence.quote)]
        if not quote:
            return None
        found = self._find(quote, cited)
        if found is None:
            neighbours = {i + step for i in cited for step in (-1, 1)} & self._texts.keys()
            found = self._find(quote, cited | neighbours)
        return None if found is None else self._evidence(found)

    def _find(self, quote: list[str], segment_ids: set[int]) -> list[_Word] | None:
        matches = [_match(quote, self._passage(run)) for run in _runs(segment_ids)]
        found = [match for match in matches if match is not None]
        return min(found, key=lambda match: match.slack).words if found else None

    def _passage(self, segment_ids: Sequence[int]) -> list[_Word]:
        return [word for segment_id in segment_ids for word in self._segment_words(segment_id)]

    def _segment_words(self, segment_id: int) -> list[_Word]:
        words = self._words.get(segment_id)
        if words is None:
            words = [
                _Word(text, segment_id, start, end)
                for text, start, end in _normalised(self._texts[segment_id])
            ]
            self._words[segment_id] = words
        return words

    def _evidence(self, words: list[_Word]) -> Evidence:
        # The transcript's own words from the first word matched to the last, whole
        # segments between (one saying only "um" may lie between two cited ones).
        segment_ids = list(range(words[0].segment_id, words[-1].segment_id + 1))
        texts = [self._texts[segment_id] for segment_id in segment_ids]
        texts[-1] = texts[-1][: _end_of_word(texts[-1], words[-1].end)]
        texts[0] = texts[0][words[0].start :]
        return Evidence(segment_ids=tuple(segment_ids), quote=_shortened(" ".join(texts)))


@dataclass(frozen=True, slots=True)
class _Match:
    words: list[_Word]  # the passage's words the quote spans
    slack: int  # words changed or left out


def _match(quote: list[str], passage: list[_Word]) -> _Match | None:
    """Where `quote` lines up with `passage` within the slack, or None."""
    if not passage:
        return None
    said = [word.text for word in passage]
    codes = {text: code for code, text in enumerate(dict.fromkeys(said))}
    quoted = [_code(word, codes) for word in quote]
    spoken = [codes[text] for text in said]
    omissions_allowed = 1 + len(quote) // _WORDS_PER_OMISSION
    # The stretch the length of the quote most like it; then, widened by what the quote
    # may have left out. (Lined up in the wider one alone, a repeated word may be taken
    # from too early: "you can't, you can't run it".)
    window = fuzz.partial_ratio_alignment(quoted, spoken)
    if window is None:  # None only below a score_cutoff, and none is given
        return None
    windows = {
        (window.dest_start, window.dest_end),
        (
            max(0, window.dest_start - omissions_allowed),
            min(len(spoken), window.dest_end + omissions_allowed),
        ),
    }
    matches = [_judged(quote, passage, quoted, spoken, low, high) for low, high in windows]
    found = [match for match in matches if match is not None]
    if not found:
        return None
    slack, first, last = min(found)
    return _Match(words=passage[first : last + 1], slack=slack)


def _judged(
    quote: list[str],
    passage: list[_Word],
    quoted: list[int],
    spoken: list[int],
    low: int,
    high: int,
) -> tuple[int, int, int] | None:
    """The quote lined up with `spoken[low:high]`: its slack and the first and last word
    of the passage it spans, or None when it does not line up within the slack."""
    aligned = {
        source: low + target
        for block in LCSseq.opcodes(quoted, spoken[low:high])
        if block.tag == "equal"
        for source, target in zip(
            range(block.src_start, block.src_end),
            range(block.dest_start, block.dest_end),
            strict=True,
        )
    }
    if not aligned:
        return None
    matched_said = set(aligned.values())
    first, last = min(matched_said), max(matched_said)
    changed = [word for i, word in enumerate(quote) if i not in aligned]
    left_out = [passage[i].text for i in range(first, last + 1) if i not in matched_said]
    # A changed word at either end of the quote stands for the passage's word there.
    first, last = (
        max(0, first - min(aligned)),
        min(len(passage) - 1, last + len(quote) - 1 - max(aligned)),
    )
    # A contraction is said whole: "we don't" quoted as "we do" keeps its "not" in view.
    while first > 0 and passage[first - 1].start == passage[first].start:
        first -= 1
    while last < len(passage) - 1 and passage[last + 1].start == passage[last].start:
        last += 1
    replaced = [passage[i].text for i in range(first, last + 1) if i not in matched_said]
    if (
        len(changed) > len(quote) // _WORDS_PER_CHANGE
        or len(left_out) > 1 + len(quote) // _WORDS_PER_OMISSION
        or any(map(_is_weighty, changed))
        or any(map(_is_weighty, replaced))
    ):
        return None
    return len(changed) + len(left_out), first, last


def _code(word: str, codes: Mapping[str, int]) -> int:
    """The passage's code for `word`, or for its spelling there; -1 when it is not said."""
    if word in codes:
        return codes[word]
    if len(word) >= _MIN_FUZZY_WORD_CHARS and not _is_weighty(word):
        close = process.extractOne(
            word, codes.keys(), scorer=fuzz.ratio, score_cutoff=_SPELLING_SIMILARITY
        )
        if close is not None:
            return codes[close[0]]
    return -1


def _is_weighty(word: str) -> bool:
    """A word whose change changes what was said, however small it looks."""
    return word in _NEGATIONS or any(char.isdigit() for char in word)


def _normalised(text: str) -> list[tuple[str, int, int]]:
    """The words of `text` as compared, each with the span of `text` it comes from."""
    words: list[tuple[str, int, int]] = []
    # Blanked, not removed, so the words keep their places in `text`.
    spoken = _ANNOTATION.sub(lambda found: " " * len(found.group()), text)
    for found in _WORD.finditer(spoken):
        for word in _compared(found.group()):
            # A stutter ("the the") says the word once.
            if word not in _FILLERS and not (words and words[-1][0] == word):
                words.append((word, found.start(), found.end()))
    return words


# Speech repeats its words: a long meeting says a few thousand distinct ones.
@lru_cache(maxsize=16384)
def _compared(word: str) -> tuple[str, ...]:
    """The word as compared: one word, or two for a contraction ("we'll": "we", "will")."""
    word = unicodedata.normalize("NFKC", word).casefold().translate(_APOSTROPHES)
    if word in _WHOLE_WORDS:
        return _WHOLE_WORDS[word]
    for suffix, full in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            return (word[: -len(suffix)], full)
    if word.endswith("'s") and word[:-2] in _IS_AFTER:
        return (word[:-2], "is")
    return (word.replace("'", ""),)


def _end_of_word(text: str, end: int) -> int:
    # Up to the next space: the punctuation after the last word ("Friday.") reads as said.
    space = _SPACE.search(text, end)
    return space.start() if space else len(text)


def _runs(segment_ids: set[int]) -> list[list[int]]:
    """The ids in order, split where one does not follow the other."""
    runs: list[list[int]] = []
    for segment_id in sorted(segment_ids):
        if runs and runs[-1][-1] == segment_id - 1:
            runs[-1].append(segment_id)
        else:
            runs.append([segment_id])
    return runs


def _shortened(quote: str) -> str:
    if len(quote) <= MAX_QUOTE_CHARS:
        return quote
    cut = quote.rfind(" ", 0, MAX_QUOTE_CHARS)
    return quote[: cut if cut > 0 else MAX_QUOTE_CHARS].rstrip() + "…"
