"""Who a person is: the one place that compares, keys and recognises people's names.

Participants typed at intake, speakers a transcript labels, owners notes name and the
graph's `Person` nodes all meet here, so "José García", "jose garcia", "José" and
"Mr. García" are one person everywhere or nowhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz import fuzz, process

# Titles said before a name: "Ms. Singh" is Singh.
_HONORIFIC = re.compile(
    r"^(?:mr|mrs|ms|miss|mx|dr|prof|professor|sir|madam|dame)\.?\s+", re.IGNORECASE
)
# Job titles and functions that name a seat at the table rather than a person: a speaker
# label "Project Manager" or "Marketing" is a role, kept as said and never taken apart
# into a first and a last name.
_ROLE_VOCABULARY = """
    account accounts admin administrator analyst architect assistant board ceo cfo chair
    chairman chairperson chairwoman chief cio consultant coo coordinator cto data design
    designer developer development director editor engineer engineering executive expert
    facilitator finance financial founder guest head host hr human industrial interface
    intern interviewee interviewer lead leader legal manager marketing member moderator
    note notetaker officer operations owner participant partner president product program
    programme project qa recruiter representative research researcher resources sales scrum
    secretary senior software specialist staff student supervisor support taker team
    technical tester treasurer user ux ui vice vp writer
"""
_ROLE_WORDS = frozenset(_ROLE_VOCABULARY.split())
# "Head of Sales", "Research and Development".
_ROLE_JOINERS = frozenset({"of", "and", "&"})
# An acronym such as "PM", "CEO" or "QA" said for a role; a name is never all capitals
# and this short.
_ACRONYM = re.compile(r"[A-Z]{2,4}")
# Diarizers and meeting apps label unknown voices "SPEAKER_01", "Speaker 2", "Guest 3".
_ANONYMOUS = re.compile(r"(?:speaker|guest|participant|unknown)[ _-]?\d+", re.IGNORECASE)

# Fuzzy matching (rapidfuzz scores, 0-100) only accepts near-identical spellings: a
# transcription or a language model that writes "Katherine" for "Katharine". A single
# word must be long enough that a couple of letters off is still that name.
_FUZZY_FULL_NAME = 88
_FUZZY_ONE_WORD = 85
_FUZZY_MIN_WORD = 5

# How a speaker label in a transcript file may name someone. Pronouns, roles or
# affiliations that Zoom and Teams users add to display names: "Jane Doe (she/her)",
# "Sam Lee [Guest]".
_NAME_AFFIX = re.compile(r"\([^()\[\]]{1,40}\)|\[[^()\[\]]{1,40}\]")
# Apostrophes (straight and typographic), hyphens and initials' dots occur inside names.
_NAME_PUNCTUATION = frozenset("'\u2019-.")
# Lower-case name particles: "Ludwig van Beethoven", "Maria de la Cruz".
_NAME_PARTICLES = frozenset(
    {"al", "bin", "bint", "da", "das", "de", "del", "della", "der", "di", "dos", "du", "el"}
    | {"ibn", "la", "le", "van", "von", "y", "zu"}
)
# Diarizers' numbered speakers: SPEAKER_00.
_NUMBERED = re.compile(r"_\d+$")
_MAX_LABEL_WORDS = 5


def clean_name(text: str) -> str:
    """A name as shown: its words, single-spaced."""
    return " ".join(text.split())


def normalize_email(email: str | None) -> str | None:
    """An address as compared and stored: lower-cased; None when blank."""
    cleaned = (email or "").strip().lower()
    return cleaned or None


# The same people and topics come back meeting after meeting; a rebuild normalizes each
# name hundreds of times.
@lru_cache(maxsize=8192)
def normalize_name(text: str) -> str:
    """The form two spellings of one name or topic share: transliterated to ASCII, case
    and spacing dropped.

    "  José  GARCÍA " and "jose garcia" are one person, and so are "Łukasz" and "Lukasz"
    (letters such as Ł, ø, ß have no accent to strip: they are transliterated); "Q3
    Roadmap" and "q3  roadmap" are one topic.
    """
    if not text.isascii():
        text = "".join(map(_transliterate, unicodedata.normalize("NFKC", text)))
    return " ".join(text.casefold().split())


def _transliterate(char: str) -> str:
    # Chinese characters stay as they are: their romanization drops the tones, so
    # different names (王伟, 汪伟) would read alike and two people would become one.
    if unicodedata.name(char, "").startswith("CJK UNIFIED IDEOGRAPH"):
        return char
    return anyascii(char)


def person_key(name: str, email: str | None = None) -> str:
    """The `Person.key` of DESIGN.md: the lower-cased email, else `name:<normalized name>`."""
    return normalize_email(email) or f"name:{normalize_name(name)}"


def is_anonymous(name: str) -> bool:
    """Whether `name` is a label for an unknown voice ("SPEAKER_01", "Speaker 2", "Guest 3"):
    it names no one, and the same label in two meetings is not the same person."""
    return _ANONYMOUS.fullmatch(clean_name(name)) is not None


def is_role(name: str) -> bool:
    """Whether `name` is a role ("Project Manager", "PM", "Marketing") or an anonymous
    voice ("SPEAKER_01") rather than a person's name."""
    cleaned = clean_name(name)
    if _ACRONYM.fullmatch(cleaned) or is_anonymous(cleaned):
        return True
    words = [w for w in normalize_name(cleaned).replace("-", " ").split() if w not in _ROLE_JOINERS]
    return bool(words) and all(word in _ROLE_WORDS for word in words)


def is_speaker_name(candidate: str) -> bool:
    """Whether a transcript's label (what precedes "Name:" or sits in "[Name]") names a
    speaker: a few capitalized words (a role such as "Project Manager" or "PM" too), maybe
    with particles, initials, a "Last, First" comma, a trailing number ("Guest 2") and an
    affix in brackets ("(she/her)"). A sentence that happens to hold a colon has lower-case
    words before it ("Action items are in the doc: ..."), so it names nobody."""
    core = _NAME_AFFIX.sub(" ", candidate)
    if any(bracket in core for bracket in "()[]"):
        return False
    words = [word.removesuffix(",") for word in core.split()]
    if not 1 <= len(words) <= _MAX_LABEL_WORDS or not all(words):
        return False
    names = [word for word in words if _is_name_word(word)]
    return (
        bool(names)
        and not words[0].isdecimal()
        and all(word in names or word in _NAME_PARTICLES or word.isdecimal() for word in words)
    )


def _is_name_word(word: str) -> bool:
    first = word[0]
    if not first.isalpha() or first.islower():
        return False
    return all(
        char.isalpha() or char in _NAME_PUNCTUATION or unicodedata.category(char)[0] == "M"
        for char in _NUMBERED.sub("", word)
    )


def _without_honorific(said: str) -> str:
    """A name said with a title ("Ms. Singh") without it."""
    return _HONORIFIC.sub("", clean_name(said))


class Roster:
    """The people of one meeting, so a name as said can be told to be one of them.

    A said name is a person on the roster when it is their full name (spelled in any way
    `normalize_name` makes alike, with or without a title: "Ms. Carol Singh"), or a first
    or last name only one of them has ("Carol", "Ms. Singh"): a first name two people
    share names neither. A role ("Project Manager") is matched whole, or by its acronym
    ("PM"), never by one of its words. Entries with the same normalized name are one
    person. Fuzzy matching, where asked for, takes near-identical spellings only, and
    never for a name that is ambiguous or a role.
    """

    def __init__(self, names: Iterable[str], *, common_words: Collection[str] = ()) -> None:
        # `common_words`: words that, said alone, are no one's name even when someone is
        # called that ("Will", "Grant" at the start of a sentence).
        # normalized full name -> the name as the roster was given it (as stored)
        self._names: dict[str, str] = {}
        holders: dict[str, set[str]] = defaultdict(set)  # a partial name -> full names
        for name in names:
            key = normalize_name(name)
            if not key or key in self._names:
                continue
            self._names[key] = name
            words = key.split()
            if is_role(name):
                if len(words) > 1:
                    holders["".join(word[0] for word in words)].add(key)
            elif len(words) > 1:
                for word in (words[0], words[-1]):
                    holders[word].add(key)
        self._partial = {
            word: next(iter(keys))
            for word, keys in holders.items()
            if len(word) >= 2 and word not in common_words and word not in self._names
        }
        self._ambiguous = {word for word, keys in holders.items() if len(keys) > 1}
        for word in self._ambiguous:
            self._partial.pop(word, None)
        for key in [key for key in self._names if " " not in key and key in common_words]:
            del self._names[key]

    def match(self, said: str, *, fuzzy: bool = False) -> str | None:
        """The roster's name for `said`, or None when it is nobody on it (or could be two)."""
        for form in dict.fromkeys((said, _without_honorific(said))):
            key = normalize_name(form)
            if key in self._names:
                return self._names[key]
            if key in self._partial:
                return self._names[self._partial[key]]
        key = normalize_name(_without_honorific(said))
        if not fuzzy or not key or key in self._ambiguous or is_role(said):
            return None
        return self._fuzzy(key)

    def name_for(self, said: str, *, fuzzy: bool = False) -> str:
        """The roster's name for `said` when it is someone on it, else `said` as said."""
        return self.match(said, fuzzy=fuzzy) or clean_name(said)

    def _fuzzy(self, key: str) -> str | None:
        if " " in key:
            choices = list(self._names)
            scorer, cutoff = fuzz.token_sort_ratio, _FUZZY_FULL_NAME
        elif len(key) >= _FUZZY_MIN_WORD:
            words = (*self._partial, *self._ambiguous, *self._names)
            choices = [word for word in words if " " not in word]
            scorer, cutoff = fuzz.ratio, _FUZZY_ONE_WORD
        else:
            return None
        close = process.extract(key, choices, scorer=scorer, score_cutoff=cutoff, limit=None)
        found = {self._full(choice) for choice, _, _ in close}
        # Two people spelled alike enough: the name could be either, so it is neither.
        only = found.pop() if len(found) == 1 else None
        return None if only is None else self._names[only]

    def _full(self, word: str) -> str | None:
        """The full name a word found by fuzzy matching stands for; None: two people's."""
        if word in self._names:
            return word
        return self._partial.get(word)
