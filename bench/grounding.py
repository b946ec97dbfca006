"""How grounding tells quotes that were said from quotes that were not, and how fast.

    python bench/grounding.py [--items N] [--seed S]

Quotes are drawn from the real meetings in shared/corpus/qmsum, the way a model quotes:
faithful ones (case, punctuation, fillers and transcriber's annotations dropped), ones
leaving out a word, ones changing one word, and ones taken from another segment than the
one cited. Each kind's share kept is printed for `ground` beside a plain baseline, one
rapidfuzz partial_ratio >= 90 of the lower-cased quote in the cited segment, so what the
word alignment buys is visible. Then the time `ground` takes over all the meetings read as
one long transcript (about 3,000 segments, more than a two-hour meeting has), best of
three.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from rapidfuzz import fuzz

# Run as a plain script the repository's own packages are not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from integrations.synthesis.base import Evidence, NoteItem, Notes, Utterance
from integrations.synthesis.grounding import ground

MEETINGS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "qmsum"
NOISE = re.compile(r"\{[^}]*\}|\b(?:uh|um|mm)\b|[^\w\s']", re.IGNORECASE)
BASELINE_THRESHOLD = 90

Quote = tuple[str, int, str]  # kind, cited segment, quote


def transcript() -> list[Utterance]:
    turns = [
        turn
        for path in sorted(MEETINGS.glob("*.json"))
        for turn in json.loads(path.read_text())["meeting_transcripts"]
    ]
    return [Utterance(i, turn["content"], turn["speaker"]) for i, turn in enumerate(turns)]


def quotes(utterances: list[Utterance], count: int, rng: random.Random) -> Iterator[Quote]:
    spoken = {u.segment_id: NOISE.sub(" ", u.text).split() for u in utterances}
    long = [segment_id for segment_id, words in spoken.items() if len(words) >= 12]
    for _ in range(count):
        cited, other = rng.choice(long), rng.choice(long)
        words = spoken[cited]
        size = rng.randint(4, min(20, len(words)))
        start = rng.randrange(len(words) - size + 1)
        said = words[start : start + size]
        yield "faithful", cited, " ".join(said).capitalize()
        if size >= 8:
            shorter = said[:]
            del shorter[rng.randrange(1, size - 1)]
            yield "a word left out (8+ words)", cited, " ".join(shorter)
        changed = said[:]
        changed[rng.randrange(size)] = rng.choice(spoken[other])
        if changed != said:
            kind = "a word changed, " + ("8+ words" if size >= 8 else "under 8 words")
            yield kind, cited, " ".join(changed)
        yield "from another segment", cited, " ".join(spoken[other][:size])


def kept_by_ground(utterances: list[Utterance], quote: Quote) -> bool:
    _, cited, text = quote
    notes = Notes(summary="", key_decisions=[NoteItem("", Evidence((cited,), text))])
    return bool(ground(notes, utterances).key_decisions)


def kept_by_baseline(utterances: list[Utterance], quote: Quote) -> bool:
    _, cited, text = quote
    score = fuzz.partial_ratio(text.lower(), utterances[cited].text.lower())
    return score >= BASELINE_THRESHOLD


def shares(
    utterances: list[Utterance], drawn: list[Quote], kept: Callable[[list[Utterance], Quote], bool]
) -> dict[str, float]:
    totals = Counter(kind for kind, _, _ in drawn)
    kept_count = Counter(
        kind for kind, cited, text in drawn if kept(utterances, (kind, cited, text))
    )
    return {kind: kept_count[kind] / total for kind, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="quotes drawn of each kind")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    utterances = transcript()
    drawn = list(quotes(utterances, args.items, random.Random(args.seed)))

    ours = shares(utterances, drawn, kept_by_ground)
    baseline = shares(utterances, drawn, kept_by_baseline)
    print(f"{'share kept':32} {'ground':>8} {'baseline':>9}")
    for kind in sorted(ours):
        print(f"{kind:32} {ours[kind]:8.1%} {baseline[kind]:9.1%}")

    notes = Notes(
        summary="",
        key_decisions=[NoteItem("", Evidence((cited,), text)) for _, cited, text in drawn[:100]],
    )
    seconds = min(_timed(lambda: ground(notes, utterances)) for _ in range(3))
    print(f"\nground: 100 items over {len(utterances)} segments in {seconds * 1000:.1f} ms")


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
