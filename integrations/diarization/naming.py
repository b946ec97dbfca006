"""Names for anonymous voices, from what the meeting says about who is talking.

A diarizer labels voices "Speaker 1", "Speaker 2"; people say who they are ("I'm Maria",
"this is Kenji from platform"), call on each other ("Kenji, can you take it?" and
another voice answers), thank the one who just spoke ("Thanks, Grace"), and the organizer
usually opens the meeting. Each of these is evidence for a label being a person; people
rarely say their own name otherwise, which is evidence against. The evidence is summed
per label and person, each person goes to at most one label (the assignment that
explains most), and only namings well ahead of their alternatives are returned.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from scipy.optimize import linear_sum_assignment

from integrations.people import Roster, clean_name, is_anonymous, is_role, is_speaker_name
from integrations.synthesis.base import Attendee
from integrations.transcription.base import TranscribedSegment, Transcript

# How much each kind of evidence says (log-odds-like weights, summed per label and person).
INTRODUCTION = 3.0  # "I'm Maria": said about oneself, on purpose
UNLISTED_INTRODUCTION = 2.0  # "my name is Amara" when Amara is on no attendee list
ANSWERED = 1.0  # "Kenji, can you take it?" and the next voice answers
ANSWERED_MIDWAY = 0.5  # the call is not the turn's last sentence: the answer may be later
THANKED = 1.0  # "Thanks, Grace." names the voice that spoke just before
OPENED = 0.5  # the organizer speaks first: weak, a host often lets someone else start
SAID_OWN_NAME = -1.0  # a voice calling on or mentioning a person is not that person
# A naming is applied when its evidence reaches this and leads the label's next-best
# person (and the person's next-best label) by `MARGIN`: one answered call, not a guess.
CONFIDENT = 1.0
MARGIN = 0.5

# A run of capitalized words: where a name can be ("Kenji", "Kenji Watanabe", "Ms. Singh").
_NAME_RUN = r"(?:Mr|Mrs|Ms|Dr|Prof)?\.?\s*[A-Z][\w'\u2019.-]*(?:\s+[A-Z][\w'\u2019.-]*){0,3}"
# The lead words in any case, the name capitalized: "i'm Maria", never "I'm sure".
_INTRODUCTION = re.compile(
    r"\b(?i:i'?m|i am|my name is|my name's|this is|it's|it is)\s+(?P<name>" + _NAME_RUN + ")"
)
# "Kenji here." at a sentence's start.
_HERE = re.compile(r"^(?P<name>" + _NAME_RUN + r")\s+here\b")
# Words a sentence may open with before the person it calls on: "Okay Bob, ...".
_LEAD = r"(?i:(?:ok(?:ay)?|so|and|now|right|well|hey|hi|great|good|alright|next|then)[,.]?\s+)*"
_CALL_FIRST = re.compile(r"^" + _LEAD + r"(?P<name>" + _NAME_RUN + r")\s*[,?!]")
_CALL_LAST = re.compile(r",\s*(?P<name>" + _NAME_RUN + r")\s*[?.!]*$")
_THANKS = re.compile(r"^(?i:thanks|thank you)[,!]?\s+(?P<name>" + _NAME_RUN + ")")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[A-Z][\w'\u2019-]*")


@dataclass(frozen=True, slots=True)
class Naming:
    """Who a voice is: a name (an attendee's as given, with their address), and how sure."""

    name: str
    email: str | None
    confidence: float  # 0-1
    evidence: tuple[str, ...]  # what said so, for a person reading why


def name_speakers(
    segments: Sequence[TranscribedSegment], attendees: Sequence[Attendee]
) -> dict[str, Naming]:
    """The labels of anonymous voices ("Speaker 2", "SPEAKER_01") that the meeting names,
    with the name.

    Only anonymous labels are named; a person goes to one label at most; a
    name said that is on no attendee list is taken only from a self-introduction.
    """
    roster = Roster([attendee.name for attendee in attendees])
    by_name = {attendee.name: attendee for attendee in attendees}
    scores: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    reasons: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(label: str, name: str, weight: float, reason: str) -> None:
        scores[label][name] += weight
        if weight > 0:
            reasons[(label, name)].append(reason)

    turns = _turns(segments)
    for index, (label, text) in enumerate(turns):
        sentences = [s for s in _SENTENCE_END.split(text) if s]
        introduced = _introductions(sentences, roster)
        for name, listed in introduced:
            weight = INTRODUCTION if listed else UNLISTED_INTRODUCTION
            add(label, name, weight, f'introduced themselves: "{_short(text)}"')
        for name in _mentioned(text, roster) - {name for name, _ in introduced}:
            add(label, name, SAID_OWN_NAME, "")
        answer = _next_voice(turns, index)
        for position, sentence in enumerate(sentences):
            called = _match(_CALL_FIRST, sentence, roster) or _match(_CALL_LAST, sentence, roster)
            if called is not None and answer is not None:
                last = position == len(sentences) - 1
                add(
                    answer,
                    called,
                    ANSWERED if last else ANSWERED_MIDWAY,
                    f'answered "{_short(sentence)}"',
                )
            thanked = _match(_THANKS, sentence, roster)
            previous = _previous_voice(turns, index)
            if thanked is not None and previous is not None and position == 0:
                add(previous, thanked, THANKED, f'was thanked: "{_short(sentence)}"')
    organizers = [attendee.name for attendee in attendees if attendee.is_organizer]
    if turns and len(organizers) == 1:
        add(turns[0][0], organizers[0], OPENED, "spoke first, as the organizer usually does")
    # Voices already named (a platform's transcript, a timeline) keep their names, and the
    # people they are named for are taken.
    voices = list(dict.fromkeys(label for label, _ in turns if is_anonymous(label)))
    taken = {roster.name_for(label) for label, _ in turns if not is_anonymous(label)}
    anonymous = {
        label: {name: score for name, score in scores[label].items() if name not in taken}
        for label in voices
    }
    left = {name: attendee for name, attendee in by_name.items() if name not in taken}
    named = _assign(anonymous)
    if len(voices) == len(left) and len(named) == len(left) - 1:
        named += _last_left(anonymous, named, voices, left, reasons)
    return {
        label: Naming(
            name=name,
            email=by_name[name].email if name in by_name else None,
            confidence=round(1 - math.exp(-score), 3),
            evidence=tuple(reasons[(label, name)]),
        )
        for label, name, score in named
    }


def name_transcript(transcript: Transcript, attendees: Sequence[Attendee]) -> Transcript:
    """The transcript with the voices `name_speakers` names given their names."""
    names = {
        label: naming.name
        for label, naming in name_speakers(transcript.segments, attendees).items()
    }
    if not names:
        return transcript
    return replace(
        transcript,
        segments=tuple(
            replace(segment, speaker=names.get(segment.speaker or "", segment.speaker))
            for segment in transcript.segments
        ),
    )


def _turns(segments: Sequence[TranscribedSegment]) -> list[tuple[str, str]]:
    """Consecutive segments of one voice as one turn: (label, text)."""
    turns: list[tuple[str, str]] = []
    for segment in segments:
        if not segment.speaker:
            continue
        if turns and turns[-1][0] == segment.speaker:
            turns[-1] = (segment.speaker, f"{turns[-1][1]} {segment.text.strip()}")
        else:
            turns.append((segment.speaker, segment.text.strip()))
    return turns


def _next_voice(turns: Sequence[tuple[str, str]], index: int) -> str | None:
    return turns[index + 1][0] if index + 1 < len(turns) else None


def _previous_voice(turns: Sequence[tuple[str, str]], index: int) -> str | None:
    return turns[index - 1][0] if index > 0 else None


def _known(said: str, roster: Roster) -> str | None:
    """The attendee the start of a run of capitalized words names (longest first)."""
    # A run may end a sentence: "Thanks Grace." is Grace.
    words = said.rstrip(".").split()
    for length in range(len(words), 0, -1):
        found = roster.match(" ".join(words[:length]))
        if found is not None:
            return found
    return None


def _match(pattern: re.Pattern[str], sentence: str, roster: Roster) -> str | None:
    found = pattern.search(sentence.strip())
    return None if found is None else _known(found["name"], roster)


def _introductions(sentences: Sequence[str], roster: Roster) -> list[tuple[str, bool]]:
    """The names a turn introduces its speaker as, each with whether an attendee's."""
    found: list[tuple[str, bool]] = []
    for sentence in sentences:
        for match in (*_INTRODUCTION.finditer(sentence), _HERE.match(sentence.strip())):
            if match is None:
                continue
            said = match["name"]
            known = _known(said, roster)
            if known is not None:
                found.append((known, True))
            elif (unlisted := _unlisted_name(said, match[0])) is not None:
                found.append((unlisted, False))
    return found


def _unlisted_name(said: str, phrase: str) -> str | None:
    """A name on no list, taken only from "my name is ..." ("I'm Happy to help" is no
    name): its capitalized words, when they read as a person's name and not a role."""
    if not re.match(r"(?i)my name\b", phrase):
        return None
    name = clean_name(" ".join(_WORD.findall(said)[:3]))
    if not name or not is_speaker_name(name) or is_role(name):
        return None
    return name


def _mentioned(text: str, roster: Roster) -> set[str]:
    """The attendees a turn names anywhere."""
    mentioned = set()
    for run in re.finditer(_NAME_RUN, text):
        words = run[0].split()
        for start in range(len(words)):
            found = _known(" ".join(words[start:]), roster)
            if found is not None:
                mentioned.add(found)
                break
    return mentioned


def _assign(scores: dict[str, dict[str, float]]) -> list[tuple[str, str, float]]:
    """(label, name, score) for the assignment of people to labels with the most evidence,
    keeping the confident ones: enough evidence, and ahead of the alternatives."""
    labels = sorted(scores)
    names = sorted({name for row in scores.values() for name in row})
    if not labels or not names:
        return []
    matrix = [[scores[label].get(name, 0.0) for name in names] for label in labels]
    rows, columns = linear_sum_assignment(matrix, maximize=True)
    chosen = []
    for row, column in zip(rows, columns, strict=True):
        score = matrix[row][column]
        rivals = [matrix[row][c] for c in range(len(names)) if c != column]
        rivals += [matrix[r][column] for r in range(len(labels)) if r != row]
        if score >= CONFIDENT and score - max(rivals, default=0.0) >= MARGIN:
            chosen.append((labels[row], names[column], score))
    return chosen


def _last_left(
    scores: dict[str, dict[str, float]],
    named: Sequence[tuple[str, str, float]],
    voices: Sequence[str],
    attendees: dict[str, Attendee],
    reasons: dict[tuple[str, str], list[str]],
) -> list[tuple[str, str, float]]:
    """Every voice but one named, as many voices as attendees: the one voice left is the one
    attendee left, unless what it said is evidence against."""
    (label,) = set(voices) - {label for label, _, _ in named}
    (name,) = set(attendees) - {name for _, name, _ in named}
    score = scores[label].get(name, 0.0)
    if score < 0:
        return []
    reasons[(label, name)].append("the one voice left, and the one attendee left")
    return [(label, name, score + CONFIDENT)]


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
