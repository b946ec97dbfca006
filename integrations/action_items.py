"""Following action items across meetings: an item's stable key, whether a later meeting's
item repeats it, and whether something said in a later meeting reports it done.

Plain English rules over any meeting's words: the item's verb in its past forms ("sent" for
"send", from lemminflect's tables), or a general word of completion ("done", "finished",
"went out"), with most of the item's object words, in a sentence that is neither negated,
a question, nor about the future.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from lemminflect import getAllInflections, getLemma
from rapidfuzz import fuzz

from integrations.people import normalize_name

# A repeated item is one whose words this similar (rapidfuzz's token_set_ratio, 0-100) to
# the earlier one's, by the same owner.
REPEAT_SIMILARITY = 80.0
# Of the item's object words ("survey results" of "Send the survey results to the team"),
# at least this share must be named in a sentence that reports it done.
OBJECT_COVERAGE = 0.6

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "for",
        "on",
        "in",
        "at",
        "by",
        "with",
        "from",
        "and",
        "or",
        "about",
        "into",
        "our",
        "your",
        "their",
        "my",
        "his",
        "her",
        "its",
        "this",
        "that",
        "these",
        "those",
        "it",
        "them",
        "they",
        "we",
        "i",
        "you",
        "he",
        "she",
        "us",
        "me",
        "all",
        "some",
        "any",
        "up",
        "out",
    ]
)
# Words that say the deed is done whatever its verb ("done with the survey results").
_COMPLETION_WORDS = frozenset(
    [
        "done",
        "finished",
        "completed",
        "shipped",
        "handled",
        "delivered",
        "merged",
        "submitted",
        "published",
    ]
)
# And phrases ("the survey results went out").
_COMPLETION_PHRASES = (
    "went out",
    "gone out",
    "is out",
    "are out",
    "taken care of",
    "wrapped up",
    "sorted out",
)
# A sentence with one of these does not report something done: "I haven't sent it yet",
# "I will send it", "I am still working on it".
_NOT_DONE_WORDS = frozenset(
    [
        "not",
        "never",
        "n't",
        "yet",
        "will",
        "'ll",
        "going",
        "gonna",
        "still",
        "need",
        "needs",
        "should",
        "would",
        "could",
        "can",
        "cannot",
        "can't",
        "won't",
        "didn't",
        "haven't",
        "hasn't",
        "wasn't",
        "weren't",
        "isn't",
        "aren't",
        "don't",
        "doesn't",
        "tomorrow",
        "later",
    ]
)
_FIRST_PERSON = frozenset(["i", "i'm", "i've", "i'd", "we", "we've", "we're"])


@dataclass(frozen=True, slots=True)
class Said:
    """A sentence of a meeting, and who said it (None: a transcript without speakers)."""

    text: str
    speaker: str | None


def item_key(owner_key: str | None, text: str) -> str:
    """An item's key within its meeting: its owner and its words, as notes written again
    for the same meeting would give them."""
    return f"{owner_key or ''}|{' '.join(_words(text))}"


def item_id(conversation_id: uuid.UUID, key: str) -> uuid.UUID:
    """The same id for the same meeting and key, however often the notes are written."""
    return uuid.uuid5(conversation_id, f"action_item:{key}")


def repeats(earlier: str, later: str) -> float:
    """How closely `later` repeats the task `earlier` (0-100); 0 unless both ask for the
    same deed (the same verb), or nearly the same words."""
    similarity = fuzz.token_set_ratio(
        " ".join(_content(earlier)), " ".join(_content(later)), processor=None
    )
    if _verb(earlier) != _verb(later) and similarity < 95:
        return 0.0
    return similarity if similarity >= REPEAT_SIMILARITY else 0.0


def reports_done(task: str, owner: str | None, said: Sequence[Said]) -> Said | None:
    """The first sentence of `said` that reports `task` (owed by `owner`) done, if any.

    Said by the owner, naming the owner, or impersonal ("the survey results went out");
    someone else's "I sent ..." is their own deed, not the owner's.
    """
    verb = _verb(task)
    done_forms = _past_forms(verb) if verb else frozenset()
    objects = set(_content(task, skip_verb=True))
    if not objects:
        return None
    owner_key = normalize_name(owner) if owner else None
    owner_names = set(owner_key.split()) if owner_key else set()
    for sentence in said:
        for part in _SENTENCE_END.split(sentence.text):
            if part.rstrip().endswith("?"):
                continue
            words = _words(part)
            if not words or _NOT_DONE_WORDS.intersection(words):
                continue
            if not _says_done(words, done_forms):
                continue
            lemmas = {_lemma(word) for word in words}
            if len(objects & lemmas) < OBJECT_COVERAGE * len(objects):
                continue
            by_owner = sentence.speaker is not None and (
                normalize_name(sentence.speaker) == owner_key
            )
            names_owner = bool(owner_names.intersection(words))
            if by_owner or names_owner or not _FIRST_PERSON.intersection(words):
                return Said(part.strip(), sentence.speaker)
    return None


def _says_done(words: list[str], done_forms: frozenset[str]) -> bool:
    if done_forms.intersection(words) or _COMPLETION_WORDS.intersection(words):
        return True
    joined = f" {' '.join(words)} "
    return any(f" {phrase} " in joined for phrase in _COMPLETION_PHRASES)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _verb(text: str) -> str | None:
    """The deed an item asks for: its first word, as notes write items ("Send the ...")."""
    words = [word for word in _words(text) if word not in ("to", "please")]
    return _lemma(words[0], "VERB") if words else None


def _content(text: str, *, skip_verb: bool = False) -> list[str]:
    words = _words(text)
    if skip_verb and words:
        words = words[1:]
    return [_lemma(word) for word in words if word not in _STOPWORDS]


@cache
def _lemma(word: str, pos: str = "NOUN") -> str:
    lemmas = getLemma(word, upos=pos)
    return lemmas[0] if lemmas else word


@cache
def _past_forms(verb: str) -> frozenset[str]:
    forms = getAllInflections(verb, upos="VERB")
    return frozenset(form for tag in ("VBD", "VBN") for form in forms.get(tag, ()))
