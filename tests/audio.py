"""WAV files made in a test: 16-bit mono at the rate Whisper reads."""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from integrations.audio import decode_file

SAMPLE_RATE = 16_000


def write_wav(path: Path, samples: npt.NDArray[np.generic]) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def silence(path: Path, seconds: float) -> Path:
    return write_wav(path, np.zeros(round(SAMPLE_RATE * seconds)))


def meeting_series(path: Path, meetings: Sequence[Path], pause: float = 2.0) -> Path:
    """One long recording of `meetings` played one after another, `pause` seconds of
    silence between them."""
    gap = np.zeros(round(SAMPLE_RATE * pause), dtype=np.float32)
    pieces = [piece for meeting in meetings for piece in (decode_file(meeting), gap)]
    samples = np.concatenate(pieces[:-1])
    return write_wav(path, np.round(np.clip(samples, -1.0, 1.0) * 32767))
