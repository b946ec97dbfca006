"""Diarization on this machine: voice prints of short windows of speech, clustered.

1. Silero VAD (bundled with faster-whisper) finds the speech; its pauses of 160 ms or
   more split it into spans, and a change of speaker almost always falls in one.
2. Each span is covered by windows of 1.6 s (the length Resemblyzer's encoder was trained
   on), half overlapping; a span shorter than that is one window of its own length.
3. The full-length windows are clustered by their voice prints: average-linkage
   agglomerative clustering on cosine distance, cut where joining two groups would put
   voices further apart than one voice ever is from itself, or at the known number of
   participants if that is fewer. Each window is then moved to the nearest voice's
   centroid, and the short windows join the nearest centroid too.
4. Labels become turns: a span is cut halfway between the centres of windows with
   different voices, a lone window out of line with both its neighbours takes theirs,
   and turns of one voice across a short pause are joined.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import VadOptions, get_speech_timestamps
from scipy.cluster.hierarchy import fcluster, linkage
from threadpoolctl import threadpool_limits

from integrations.audio import decode_file
from integrations.diarization.base import SpeakerTurn
from integrations.diarization.voice_encoder import (
    EMBEDDING_SIZE,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    VoiceEncoder,
    mel_frames,
)

NAME = "resemblyzer-numpy"

_Floats = npt.NDArray[np.float32]

# 160 frames of 10 ms: the partial utterance Resemblyzer's encoder was trained on.
_WINDOW_FRAMES = 160
_HOP_FRAMES = 80
# Shorter speech says too little about a voice to place it; the words there go to the
# nearest turn.
_MIN_WINDOW_FRAMES = 40
# Pauses this long split speech into spans; speakers rarely change without one.
_MIN_PAUSE_MS = 160
_SPEECH_PAD_MS = 30
# The VAD's pieces (see _speech_spans), and how far before its cut each piece starts.
_VAD_PIECE_S = 300
_VAD_LEAD_S = 5
# Cosine distance (1 - similarity) between two groups' windows, on average, above which
# they are different voices. Measured: one voice's windows join at 0.28 at most on clean
# recordings, 0.30 on a noisy 1961 broadcast; the closest two different voices we have
# (festival's) join at 0.37, others at 0.38-0.57.
_DISTANCE_THRESHOLD = 0.33
# Turns of one voice separated by a pause this short are one turn.
_JOIN_GAP_S = 1.0
# At most this many windows (30 minutes of speech) build the clustering tree: its pairwise
# distances take 8 bytes per pair, 16 MB here.
_MAX_CLUSTERED = 2000
# The windows go through the encoder in batches of this many: memory stays bounded
# (each window holds 160 x 1024 floats of gate inputs per layer, 0.6 MB) and the products
# stay large enough to be efficient.
_BATCH = 32


@dataclass(frozen=True, slots=True)
class _Window:
    span: int  # index of the speech span it belongs to
    start: int  # first frame
    end: int  # frame after the last

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2 * FRAME_SAMPLES / SAMPLE_RATE


class VoiceDiarizer:
    """Who spoke when, from the voices alone; runs on the CPU, nothing is downloaded."""

    name = NAME

    def __init__(self, encoder: VoiceEncoder | None = None) -> None:
        self._encoder = encoder

    @property
    def encoder(self) -> VoiceEncoder:
        """The voice encoder, its weights loaded on first use."""
        if self._encoder is None:
            self._encoder = VoiceEncoder.pretrained()
        return self._encoder

    def diarize(self, path: Path, *, max_speakers: int | None = None) -> tuple[SpeakerTurn, ...]:
        """Speaker turns of the recording at `path`; see `Diarizer.diarize`."""
        return self.diarize_audio(decode_file(path), max_speakers=max_speakers)

    def diarize_audio(
        self, audio: _Floats, *, max_speakers: int | None = None
    ) -> tuple[SpeakerTurn, ...]:
        """Speaker turns of 16 kHz mono samples."""
        if max_speakers is not None and max_speakers < 1:
            raise ValueError("max_speakers must be at least 1")
        spans = _speech_spans(audio)
        windows = _windows(spans)
        if not windows:
            return ()
        frames = mel_frames(audio)
        full = [w for w in windows if w.end - w.start == _WINDOW_FRAMES]
        short = [w for w in windows if w.end - w.start < _WINDOW_FRAMES]
        # The recurrent steps multiply small matrices: BLAS threads only wait on each other
        # there, and the machine's cores are better left to the transcriber.
        with threadpool_limits(limits=1, user_api="blas"):
            full_prints = self._embed(frames, full)
            short_prints = self._embed(frames, short)
        if full:
            centroids = _cluster(full_prints, max_speakers)
        else:
            # Nothing but short phrases: too little to tell voices apart.
            centroids = np.mean(short_prints, axis=0, keepdims=True)
        labelled = list(full) + list(short)
        labels = _nearest(np.concatenate([full_prints, short_prints]), centroids)
        return _turns(spans, labelled, labels)

    def _embed(self, frames: _Floats, windows: Sequence[_Window]) -> _Floats:
        result = np.empty((len(windows), EMBEDDING_SIZE), dtype=np.float32)
        # A batch is one array, so its windows must be equally long.
        by_length: dict[int, list[int]] = {}
        for i, window in enumerate(windows):
            by_length.setdefault(window.end - window.start, []).append(i)
        for indices in by_length.values():
            for first in range(0, len(indices), _BATCH):
                batch = indices[first : first + _BATCH]
                mels = np.stack([frames[windows[i].start : windows[i].end] for i in batch])
                result[batch] = self.encoder.embed(mels)
        return result


def _speech_spans(audio: _Floats) -> list[tuple[int, int]]:
    """Speech as (first frame, frame after the last).

    The VAD hears the recording a piece at a time: over an hour at once it holds padded
    copies of the whole audio and its own activations, about 0.6 GB beside the recording.
    Each piece starts a little before its cut, the VAD's state settling on audio the piece
    before has heard; speech found there joins the speech the cut split, or is dropped."""
    options = VadOptions(min_silence_duration_ms=_MIN_PAUSE_MS, speech_pad_ms=_SPEECH_PAD_MS)
    piece, lead = _VAD_PIECE_S * SAMPLE_RATE, _VAD_LEAD_S * SAMPLE_RATE
    spans: list[tuple[int, int]] = []
    for cut in range(0, len(audio), piece):
        begin = max(cut - lead, 0)
        for span in get_speech_timestamps(
            audio[begin : cut + piece], options, sampling_rate=SAMPLE_RATE
        ):
            start, end = begin + span["start"], begin + span["end"]
            if end <= cut and cut:
                continue  # the piece before found it
            if spans and start <= spans[-1][1]:
                start = spans.pop()[0]  # speech the cut split
            spans.append((max(start, spans[-1][1] if spans else 0), end))
    return [(start // FRAME_SAMPLES, end // FRAME_SAMPLES) for start, end in spans]


def _windows(spans: Sequence[tuple[int, int]]) -> list[_Window]:
    """Windows covering each span from end to end, evenly spaced, at most a hop apart."""
    windows = []
    for index, (start, end) in enumerate(spans):
        length = end - start
        if length < _MIN_WINDOW_FRAMES:
            continue
        if length <= _WINDOW_FRAMES:
            windows.append(_Window(index, start, end))
            continue
        count = int(np.ceil((length - _WINDOW_FRAMES) / _HOP_FRAMES)) + 1
        for first in np.linspace(start, end - _WINDOW_FRAMES, count).round().astype(int):
            windows.append(_Window(index, int(first), int(first) + _WINDOW_FRAMES))
    return windows


def _cluster(prints: _Floats, max_speakers: int | None) -> _Floats:
    """Centroids (unit length) of the voices among the prints."""
    if len(prints) == 1:
        return prints
    # The tree needs every pairwise distance; past a few thousand windows (an hour of speech
    # is about 4,500) an even sample of them finds the same voices in bounded memory, and
    # every window still joins the nearest voice below.
    step = math.ceil(len(prints) / _MAX_CLUSTERED)
    tree = linkage(prints[::step].astype(np.float64), method="average", metric="cosine")
    labels = fcluster(tree, t=_DISTANCE_THRESHOLD, criterion="distance")
    if max_speakers is not None and labels.max() > max_speakers:
        labels = fcluster(tree, t=max_speakers, criterion="maxclust")
    centroids = _centroids(prints[::step], labels)
    # One pass of k-means: the tree's early joins are never revisited, centroids are fairer.
    return _centroids(prints, _nearest(prints, centroids))


def _centroids(prints: _Floats, labels: npt.NDArray[np.int_]) -> _Floats:
    means = np.stack([prints[labels == label].mean(axis=0) for label in np.unique(labels)])
    result: _Floats = (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)
    return result


def _nearest(prints: _Floats, centroids: _Floats) -> npt.NDArray[np.int_]:
    nearest: npt.NDArray[np.int_] = np.argmax(prints @ centroids.T, axis=1)
    return nearest


def _turns(
    spans: Sequence[tuple[int, int]], windows: Sequence[_Window], labels: npt.NDArray[np.int_]
) -> tuple[SpeakerTurn, ...]:
    """Turns from labelled windows, named "Speaker N" in order of first appearance."""
    by_span: dict[int, list[tuple[_Window, int]]] = {}
    for window, label in sorted(zip(windows, labels, strict=True), key=lambda p: p[0].start):
        by_span.setdefault(window.span, []).append((window, int(label)))

    pieces: list[tuple[float, float, int]] = []
    to_seconds = FRAME_SAMPLES / SAMPLE_RATE
    for index, labelled in sorted(by_span.items()):
        centres = [window.centre for window, _ in labelled]
        # A span is cut halfway between neighbouring windows; its own edges bound it.
        cuts = [
            spans[index][0] * to_seconds,
            *((a + b) / 2 for a, b in itertools.pairwise(centres)),
            spans[index][1] * to_seconds,
        ]
        span_labels = _smoothed([label for _, label in labelled])
        pieces += [
            (start, end, label)
            for (start, end), label in zip(itertools.pairwise(cuts), span_labels, strict=True)
        ]

    turns: list[tuple[float, float, int]] = []
    for start, end, label in pieces:
        if turns and turns[-1][2] == label and start - turns[-1][1] <= _JOIN_GAP_S:
            turns[-1] = (turns[-1][0], end, label)
        else:
            turns.append((start, end, label))
    names: dict[int, str] = {}
    for _, _, label in turns:
        names.setdefault(label, f"Speaker {len(names) + 1}")
    return tuple(SpeakerTurn(start, end, names[label]) for start, end, label in turns)


def _smoothed(labels: list[int]) -> list[int]:
    """A window whose neighbours agree with each other but not with it takes their label."""
    smoothed = list(labels)
    for k in range(1, len(labels) - 1):
        if labels[k - 1] == labels[k + 1] != labels[k]:
            smoothed[k] = labels[k - 1]
    return smoothed
