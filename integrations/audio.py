"""Recordings decoded to what the speech models read: 16 kHz mono float samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from faster_whisper import decode_audio

from integrations.transcription.base import UnreadableMediaError

SAMPLE_RATE = 16_000

Samples = npt.NDArray[np.float32]


def channel_count(path: Path) -> int:
    """How many channels the first audio stream of `path` has; 0 when it has none or is no
    media PyAV reads (decoding reports that)."""
    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            return int(streams[0].codec_context.channels) if streams else 0
    except av.error.FFmpegError:
        return 0


def check_audio(path: Path) -> None:
    """Raises UnreadableMediaError unless `path` has an audio stream, reading only its
    headers: for providers that send the file elsewhere to be decoded."""
    if channel_count(path) == 0:
        raise UnreadableMediaError(f"{path.name}: not an audio file PyAV can decode")


def decode_stereo(path: Path) -> tuple[Samples, Samples]:
    """The left and right channels of `path`, each at SAMPLE_RATE; errors as `decode_file`."""
    left, right = _decoded(path, split_stereo=True)
    return left, right


def decode_file(path: Path) -> Samples:
    """The audio of `path` (any format PyAV decodes), mono at SAMPLE_RATE.

    Raises UnreadableMediaError when the file is not decodable audio; a missing file raises
    FileNotFoundError: that is not a problem with the media, and callers check for it first.
    """
    audio: Samples = _decoded(path, split_stereo=False)
    return audio


def _decoded(path: Path, *, split_stereo: bool) -> Any:
    try:
        return decode_audio(str(path), sampling_rate=SAMPLE_RATE, split_stereo=split_stereo)
    except FileNotFoundError:
        # PyAV's FileNotFoundError is also an FFmpegError; keep it the caller's problem.
        raise
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        # IndexError: the container has no audio stream (faster-whisper takes audio[0]).
        raise UnreadableMediaError(f"{path.name}: not an audio file PyAV can decode") from exc
