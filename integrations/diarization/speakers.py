"""Speakers on a transcript's words and segments, from a diarizer's turns."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

from integrations.diarization.base import SpeakerTurn
from integrations.transcription.base import TranscribedSegment, Transcript, Word


def assign_speakers(
    transcript: Transcript, turns: Sequence[SpeakerTurn], *, relabel: bool = True
) -> Transcript:
    """The transcript with a speaker on every segment, split where the speaker changes.

    Each word goes to the turn it overlaps most (the nearest turn when it overlaps none);
    a segment whose words change speaker is cut at the first word of each new speaker. A
    segment without words goes whole to the turn it overlaps most. Speakers are labelled
    "Speaker 1", "Speaker 2"... in the order they first speak in the transcript, unless
    `relabel` is False: then they keep the turns' own speakers (names, when the turns name
    people). With no turns the transcript is returned as it is.
    """
    if not turns:
        return transcript
    ordered = sorted(turns, key=lambda turn: turn.start)
    pieces = [piece for segment in transcript.segments for piece in _split(segment, ordered)]
    labels: dict[str, str] = {}
    for speaker, _ in pieces:
        labels.setdefault(speaker, f"Speaker {len(labels) + 1}" if relabel else speaker)
    return replace(
        transcript,
        segments=tuple(replace(piece, speaker=labels[speaker]) for speaker, piece in pieces),
    )


def _split(
    segment: TranscribedSegment, turns: Sequence[SpeakerTurn]
) -> list[tuple[str, TranscribedSegment]]:
    """The segment's pieces, one per run of words with one speaker, with that speaker."""
    if not segment.words:
        return [(_speaker_at(segment.start, segment.end, turns), segment)]
    runs: list[tuple[str, list[Word]]] = []
    for word in segment.words:
        speaker = _speaker_at(word.start, word.end, turns)
        if runs and runs[-1][0] == speaker:
            runs[-1][1].append(word)
        else:
            runs.append((speaker, [word]))
    if len(runs) == 1:
        return [(runs[0][0], segment)]
    texts = _cut_text(segment.text, [words for _, words in runs])
    last = len(runs) - 1
    return [
        (
            speaker,
            TranscribedSegment(
                # The outer edges stay the segment's: its words may start after it does.
                start=segment.start if k == 0 else words[0].start,
                end=segment.end if k == last else words[-1].end,
                text=text,
                words=tuple(words),
            ),
        )
        for k, ((speaker, words), text) in enumerate(zip(runs, texts, strict=True))
    ]


def _speaker_at(start: float, end: float, turns: Sequence[SpeakerTurn]) -> str:
    """The speaker of the turn overlapping [start, end] most, else of the nearest turn."""

    def overlap(turn: SpeakerTurn) -> float:
        return min(end, turn.end) - max(start, turn.start)

    best = max(turns, key=overlap)
    if overlap(best) > 0:
        return best.speaker
    middle = (start + end) / 2
    return min(turns, key=lambda turn: max(turn.start - middle, middle - turn.end)).speaker


def _cut_text(text: str, runs: Sequence[Sequence[Word]]) -> list[str]:
    """The segment's text cut where each run's first word begins.

    Cut in the text itself, so its spacing and punctuation stay as they were ("$40,000"
    may be the words "$40" and ",000"); words not found in order in the text (a
    provider's words that differ from its text) fall back to the words joined by spaces.
    """
    cuts = []
    position = 0
    for k, words in enumerate(runs):
        for index, word in enumerate(words):
            found = text.find(word.text.strip(), position)
            if found < 0:
                return [" ".join(w.text.strip() for w in run) for run in runs]
            if index == 0 and k > 0:
                cuts.append(found)
            position = found + len(word.text.strip())
    bounds = [0, *cuts, len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(bounds)]
