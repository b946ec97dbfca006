"""Recordings decoded to what the speech models read: 16 kHz mono float samples."""

from __future__ import annotations

import wave
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


def duration_of(path: Path) -> float:
    """How long the audio of `path` lasts, in seconds: from the container's header when it
    says, else by decoding it through (nothing is kept). Errors as `decode_file`."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UnreadableMediaError(f"{path.name}: no audio stream")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / av.time_base
            seconds = 0.0
            for frame in container.decode(stream):
                seconds += frame.samples / frame.sample_rate
            return seconds
    except FileNotFoundError:
        raise
    except av.error.FFmpegError as exc:
        raise UnreadableMediaError(f"{path.name}: not an audio file PyAV can decode") from exc


def decode_range(path: Path, start: float, end: float) -> Samples:
    """The audio of `path` from `start` to `end` seconds, mono at SAMPLE_RATE.

    Seeks to `start` and decodes only up to `end`, so a span of an hour-long recording
    costs the span's memory, not the hour's. Errors as `decode_file`.
    """
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UnreadableMediaError(f"{path.name}: no audio stream")
            stream = container.streams.audio[0]
            try:
                # Lands on the frame at or before `start`; frame times say where exactly.
                container.seek(int(start * av.time_base), backward=True, any_frame=False)
            except av.error.FFmpegError:
                container.seek(0)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            pieces: list[npt.NDArray[Any]] = []
            first: float | None = None
            decoded = 0  # samples at SAMPLE_RATE since `first`
            for frame in container.decode(stream):
                if first is None:
                    first = float(frame.time) if frame.time is not None else 0.0
                for resampled in resampler.resample(frame):
                    piece = resampled.to_ndarray().reshape(-1)
                    pieces.append(piece)
                    decoded += piece.size
                if first + decoded / SAMPLE_RATE >= end:
                    break
            for resampled in resampler.resample(None):
                pieces.append(resampled.to_ndarray().reshape(-1))
    except FileNotFoundError:
        raise
    except av.error.FFmpegError as exc:
        raise UnreadableMediaError(f"{path.name}: not an audio file PyAV can decode") from exc
    if first is None:
        return np.zeros(0, dtype=np.float32)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
    lo = max(0, round((start - first) * SAMPLE_RATE))
    hi = max(lo, round((end - first) * SAMPLE_RATE))
    samples: Samples = audio[lo:hi].astype(np.float32) / 32768.0
    return samples


def write_wav(path: Path, samples: Samples) -> None:
    """16-bit mono PCM at SAMPLE_RATE: what every transcriber reads.

    Scaled as decoding scales back (by 32768), so decoded audio written and read again is
    the same to the sample: a chunk of a recording is heard as the whole recording is."""
    pcm = np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(pcm.tobytes())


def _decoded(path: Path, *, split_stereo: bool) -> Any:
    try:
        return decode_audio(str(path), sampling_rate=SAMPLE_RATE, split_stereo=split_stereo)
    except FileNotFoundError:
        # PyAV's FileNotFoundError is also an FFmpegError; keep it the caller's problem.
        raise
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        # IndexError: the container has no audio stream (faster-whisper takes audio[0]).
        raise UnreadableMediaError(f"{path.name}: not an audio file PyAV can decode") from exc
