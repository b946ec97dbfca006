"""Notes quality: how much of what a meeting decided, assigned and left open the notes find.

    python bench/notes.py [--providers extractive,openai] [--verbose]

Runs each provider (by default `extractive`, and `openai` too when OPENAI_BASE_URL and
SYNTHESIS_MODEL are set) on the scripted meetings (shared/corpus/scripted, whose expected
notes are complete) and on the real AMI meetings with reference decisions
(shared/corpus/qmsum/expected), and prints side by side:

- recall of decisions, of action items (task found and owner right) and of open questions;
- due dates: of the expected action items found, the share whose due phrase was kept, and
  the share whose due date is the day the phrase means, the meeting having started on
  Tuesday 3 March 2026 at 09:00 UTC (a day on which "Friday" and "next Monday" mean the
  same to everyone);
- items per meeting (how much a reader has to go through: recall is cheap with 50 items);
- the share of items dropped as ungrounded: their quote is not in the segments they cite
  (case and punctuation aside; stricter than the pipeline's grounding, which forgives
  small differences);
- tokens and seconds per meeting.

How an expected item counts as found, for every provider alike: it shares at least half of
its content words (numbers as digits, "twenty five" = "25", plurals folded, function words
ignored) with one produced item. Expected notes are paraphrases, so exact text means
nothing; half the words is what a reader would call "the same item". Recall is measured on
the notes after the ungrounded items are dropped, which is what users see.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a plain script the repository's own packages are not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from integrations.synthesis.base import (
    Attendee,
    MeetingContext,
    Notes,
    Utterance,
)
from integrations.synthesis.chain import SynthesisChain
from pipeline.config import Settings
from pipeline.providers import UnknownProviderError, build_synthesizer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MEETING_START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
MIN_SHARED = 0.5


def _words(text: str) -> list[str]:
    return text.split()


_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70}
_TENS.update({"eighty": 80, "ninety": 90})
_FUNCTION_WORDS = frozenset(
    _words(
        """
    a an and are as at be by did do does for from in is it its of on or our so that the this
    to up us we what whether which with you your any only same there if will would should
    can could not no yes yeah okay just then than also all one ones thing things some very
    really get got have has had been being was were he she they them their i me my
    hundred thousand million
    """
    )
)


def terms(text: str) -> set[str]:
    """What an item says, for comparing paraphrases: content words, numbers as digits."""
    # Parentheses in expected notes are clarifications nobody said aloud.
    words = re.findall(r"[a-z]+|\d+", re.sub(r"\([^)]*\)", " ", text.lower()))
    found: set[str] = set()
    index = 0
    while index < len(words):
        word = words[index]
        if word in _TENS:
            value = _TENS[word]
            following = words[index + 1] if index + 1 < len(words) else ""
            if 0 < _NUMBER_WORDS.get(following, 0) < 10:
                value += _NUMBER_WORDS[following]
                index += 1
            found.add(str(value))
        elif word in _NUMBER_WORDS:
            found.add(str(_NUMBER_WORDS[word]))
        elif word not in _FUNCTION_WORDS:
            if len(word) > 4 and word.endswith(("ches", "shes", "xes")):
                word = word[:-2]
            elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
                word = word[:-1]
            found.add(word)
        index += 1
    return found


def same_item(expected: str, produced: str) -> bool:
    wanted = terms(expected)
    return bool(wanted) and len(wanted & terms(produced)) >= MIN_SHARED * len(wanted)


def _same_person(expected: str, produced: str | None) -> bool:
    return produced is not None and expected.casefold() == produced.casefold()


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def expected_due_date(phrase: str, start: datetime) -> date | None:
    """The day a due phrase in the expected notes means; None for one this bench cannot date.

    Deliberately small and independent of the providers' own resolver: it is the yardstick."""
    phrase = phrase.lower().strip()
    today = start.date()
    if phrase == "today":
        return today
    if phrase == "tomorrow":
        return today + timedelta(days=1)
    day = phrase.removeprefix("next ").removeprefix("this ")
    if day in _WEEKDAYS:
        ahead = (_WEEKDAYS.index(day) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    if phrase == "end of next week":
        return today + timedelta(days=11 - today.weekday())  # Friday of next week
    return None


@dataclass(frozen=True, slots=True)
class Meeting:
    name: str
    real: bool
    utterances: list[Utterance]
    context: MeetingContext
    decisions: list[str]
    action_items: list[dict[str, str]]
    open_questions: list[str]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def scripted_meetings(folder: Path) -> list[Meeting]:
    meetings = []
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(".timeline.json"):
            continue
        script = _load(path)
        expected = script["expected"]
        attendees = [
            Attendee(p["name"], p.get("email"), bool(p.get("organizer")))
            for p in script["participants"]
        ]
        utterances = [
            Utterance(segment_id=i, text=turn["text"], speaker=turn["speaker"])
            for i, turn in enumerate(script["turns"])
        ]
        context = MeetingContext(script.get("title"), attendees, MEETING_START, "en")
        meetings.append(
            Meeting(
                path.stem,
                False,
                utterances,
                context,
                expected["decisions"],
                expected["action_items"],
                expected["open_questions"],
            )
        )
    return meetings


def real_meetings(folder: Path) -> list[Meeting]:
    meetings = []
    for path in sorted((folder / "expected").glob("*.json")):
        reference = _load(path)
        transcript = _load((path.parent / reference["meeting"]).resolve())
        utterances = [
            Utterance(segment_id=i, text=turn["content"], speaker=turn["speaker"])
            for i, turn in enumerate(transcript["meeting_transcripts"])
        ]
        expected = reference["expected"]
        context = MeetingContext(reference.get("title"), (), MEETING_START, "en")
        meetings.append(
            Meeting(
                path.stem,
                True,
                utterances,
                context,
                expected["decisions"],
                expected["action_items"],
                expected["open_questions"],
            )
        )
    return meetings


@dataclass(slots=True)
class Tally:
    """Counts over a set of meetings for one provider."""

    found: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    items: int = 0
    per_kind: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    meetings: int = 0
    tokens: int | None = None
    seconds: float = 0.0

    def count(self, metric: str, hits: Iterable[bool]) -> None:
        hits = list(hits)
        self.found[metric] = self.found.get(metric, 0) + sum(hits)
        self.expected[metric] = self.expected.get(metric, 0) + len(hits)

    def share(self, metric: str) -> str:
        wanted = self.expected.get(metric, 0)
        if not wanted:
            return "n/a"
        found = self.found[metric]
        return f"{found / wanted:.2f} ({found}/{wanted})"


def _texts(items: Iterable[Any]) -> list[str]:
    return [item.text for item in items]


def score(meeting: Meeting, notes: Notes, tally: Tally) -> None:
    decisions = _texts(notes.key_decisions)
    questions = _texts(notes.open_questions)
    found_decisions = [any(same_item(want, got) for got in decisions) for want in meeting.decisions]
    tally.count("decisions", found_decisions)
    matches = [
        next(
            (
                got
                for got in notes.action_items
                if same_item(want["text"], got.text) and _same_person(want["owner"], got.owner)
            ),
            None,
        )
        for want in meeting.action_items
    ]
    tally.count("action items", (match is not None for match in matches))
    found_questions = [
        any(same_item(want, got) for got in questions) for want in meeting.open_questions
    ]
    tally.count("open questions", found_questions)
    dated = [
        (want, match)
        for want, match in zip(meeting.action_items, matches, strict=True)
        if match is not None and want.get("due")
    ]
    tally.count(
        "due phrase kept",
        (
            match.due is not None and want["due"].lower() in match.due.lower()
            for want, match in dated
        ),
    )
    tally.count(
        "due date right",
        (
            match.due_date == expected_due_date(want["due"], MEETING_START)
            for want, match in dated
            if expected_due_date(want["due"], MEETING_START) is not None
        ),
    )
    wanted_lists: list[tuple[str, Sequence[Any], list[bool]]] = [
        ("decision", meeting.decisions, found_decisions),
        ("action", [a["text"] for a in meeting.action_items], [m is not None for m in matches]),
        ("question", meeting.open_questions, found_questions),
    ]
    for kind, wanted, hits in wanted_lists:
        tally.missed.extend(
            f"{meeting.name}: {kind}: {want}"
            for want, hit in zip(wanted, hits, strict=True)
            if not hit
        )


def _count(notes: Notes) -> int:
    return len(notes.key_decisions) + len(notes.action_items) + len(notes.open_questions)


def run(provider: SynthesisChain, meetings: Sequence[Meeting]) -> Tally:
    tally = Tally()
    for meeting in meetings:
        started = time.perf_counter()
        # As the pipeline writes them: grounded, owners and due dates resolved.
        notes = provider.synthesize(meeting.utterances, meeting.context)
        tally.seconds += time.perf_counter() - started
        tally.meetings += 1
        tally.items += _count(notes) + notes.dropped_items
        for kind, items in (
            ("decisions", notes.key_decisions),
            ("action items", notes.action_items),
            ("open questions", notes.open_questions),
        ):
            tally.per_kind[kind] = tally.per_kind.get(kind, 0) + len(items)
        tally.dropped += notes.dropped_items
        if notes.prompt_tokens is not None or notes.completion_tokens is not None:
            tally.tokens = (tally.tokens or 0) + (notes.prompt_tokens or 0)
            tally.tokens += notes.completion_tokens or 0
        score(meeting, notes, tally)
    return tally


def default_providers() -> list[str]:
    names = ["extractive"]
    if os.environ.get("OPENAI_BASE_URL") and os.environ.get("SYNTHESIS_MODEL"):
        names.append("openai")
    return names


def build(name: str) -> SynthesisChain:
    """The provider as SYNTHESIS_PROVIDER would build it (settings from the environment)."""
    try:
        return build_synthesizer(Settings(), [name], setting="--providers")
    except UnknownProviderError as error:
        raise SystemExit(str(error)) from None


def _row(label: str, cells: Iterable[str]) -> str:
    return f"{label:<34}" + "".join(f"{cell:>22}" for cell in cells)


def _per_meeting(kind: str) -> Callable[[Tally], str]:
    return lambda tally: f"{tally.per_kind.get(kind, 0) / tally.meetings:.1f}"


def report(names: Sequence[str], results: dict[str, dict[str, Tally]], verbose: bool) -> None:
    print(_row("", names))
    lines: list[tuple[str, Callable[[Tally], str]]] = [
        ("decisions recall", lambda t: t.share("decisions")),
        ("action items recall (owner right)", lambda t: t.share("action items")),
        ("open questions recall", lambda t: t.share("open questions")),
        ("due phrase kept", lambda t: t.share("due phrase kept")),
        ("due date right", lambda t: t.share("due date right")),
        ("items per meeting", lambda t: f"{t.items / t.meetings:.1f}"),
        *(
            (f"  {kind} per meeting", _per_meeting(kind))
            for kind in ("decisions", "action items", "open questions")
        ),
        ("dropped as ungrounded", lambda t: f"{t.dropped / t.items:.0%}" if t.items else "n/a"),
        (
            "tokens per meeting",
            lambda t: "n/a" if t.tokens is None else f"{t.tokens / t.meetings:,.0f}",
        ),
        ("seconds per meeting", lambda t: f"{t.seconds / t.meetings:.2f}"),
    ]
    for corpus in ("scripted", "real"):
        tallies = [results[name][corpus] for name in names]
        print(f"{corpus} meetings ({tallies[0].meetings})")
        for label, cell in lines:
            print(_row(f"  {label}", (cell(t) for t in tallies)))
    if verbose:
        for name in names:
            for corpus in ("scripted", "real"):
                for missed in results[name][corpus].missed:
                    print(f"missed by {name}: {missed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--providers",
        type=lambda value: [n.strip() for n in value.split(",") if n.strip()],
        default=default_providers(),
        help="comma separated provider names, as SYNTHESIS_PROVIDER takes them",
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--verbose", action="store_true", help="list the expected items missed")
    args = parser.parse_args()
    corpora = {
        "scripted": scripted_meetings(args.corpus / "scripted"),
        "real": real_meetings(args.corpus / "qmsum"),
    }
    results: dict[str, dict[str, Tally]] = {}
    for name in args.providers:
        provider = build(name)
        results[name] = {corpus: run(provider, meetings) for corpus, meetings in corpora.items()}
    report(args.providers, results, args.verbose)


if __name__ == "__main__":
    main()
