"""How far speaker turns are from the truth: the share of speech given to the wrong voice.

Labels are matched to the reference's speakers one to one, the matching that agrees on
the most time (the Hungarian method), as the diarization error rate is defined; time is
looked at in 10 ms steps, one speaker per step (overlapping speech is not scored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from integrations.diarization.base import SpeakerTurn

_STEP_S = 0.01


@dataclass(frozen=True, slots=True)
class DiarizationScore:
    """Seconds of reference speech, and of the three ways to get it wrong."""

    speech: float
    missed: float  # speech with no turn
    false_alarm: float  # a turn where nobody speaks
    confusion: float  # speech given to another voice's label

    @property
    def error_rate(self) -> float:
        """The diarization error rate: all errors over the reference speech."""
        return (self.missed + self.false_alarm + self.confusion) / self.speech

    @property
    def attributed(self) -> float:
        """Of the speech that has a label, the share whose label is the right person's.

        What a reader of a labelled transcript sees: its segments cover the words, not
        the pauses a reference turn may hold, so missed time does not count here.
        """
        return 1 - self.confusion / (self.speech - self.missed)


def score(reference: Sequence[SpeakerTurn], hypothesis: Sequence[SpeakerTurn]) -> DiarizationScore:
    """Score `hypothesis` against the true turns in `reference` (which must hold speech)."""
    end = max(turn.end for turn in [*reference, *hypothesis])
    steps = int(np.ceil(end / _STEP_S)) + 1
    truth, true_names = _grid(reference, steps)
    guess, _ = _grid(hypothesis, steps)
    spoken, labelled = truth >= 0, guess >= 0
    both = spoken & labelled
    overlap = np.zeros((len(true_names), int(guess.max()) + 1))
    np.add.at(overlap, (truth[both], guess[both]), 1)
    rows, columns = linear_sum_assignment(overlap, maximize=True)
    matched = int(overlap[rows, columns].sum())
    return DiarizationScore(
        speech=float(spoken.sum()) * _STEP_S,
        missed=float((spoken & ~labelled).sum()) * _STEP_S,
        false_alarm=float((labelled & ~spoken).sum()) * _STEP_S,
        confusion=float(both.sum() - matched) * _STEP_S,
    )


def _grid(turns: Sequence[SpeakerTurn], steps: int) -> tuple[npt.NDArray[np.int_], list[str]]:
    """Each 10 ms step's speaker as an index into the names, -1 where nobody speaks."""
    names: list[str] = []
    grid = np.full(steps, -1)
    for turn in turns:
        if turn.speaker not in names:
            names.append(turn.speaker)
        grid[round(turn.start / _STEP_S) : round(turn.end / _STEP_S)] = names.index(turn.speaker)
    return grid, names
