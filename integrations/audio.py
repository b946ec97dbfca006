"""Recordings decoded to what the speech models read: 16 kHz mono float samples."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from faster_whisper import decode_audio

from integrations.transcription.base import UnreadableMediaError

SAMPLE_RATE = 16_000

Samples = npt.NDArray[np.float32]


def decode_file(path: Path) -> Samples:
    """The audio of `path` (any format PyAV decodes), mono at SAMPLE_RATE.

    Raises UnreadableMediaError when the file is not decodable audio; a missing file raises
    FileNotFoundError: that is not a problem with the media, and callers check for it first.
    """
    try:
        audio: Samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except FileNotFoundError:
        # PyAV's FileNotFoundError is also an FFmpegError; keep it the caller's problem.
        raise
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        # IndexError: the container has no audio stream (faster-whisper takes audio[0]).
        raise UnreadableMediaError(f"{path.name}: not an audio file PyAV can decode") from exc
    return audio
