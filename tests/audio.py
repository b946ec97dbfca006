"""WAV files made in a test: 16-bit mono at the rate Whisper reads."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

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
