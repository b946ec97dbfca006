"""Time LocalWhisperTranscriber against bare faster-whisper on one recording.

    python bench/transcribe.py [AUDIO]

Both run in this process on the same loaded model with the same batch size, word timestamps
and prompt: faster-whisper's BatchedInferencePipeline as it comes (its own VAD chunking, its
default beam of 5) and our transcriber (the same chunking at beam 3, then repair of skipped
speech). They alternate, best of three each, so a busy neighbour slows both alike. When a
script (AUDIO with .json, as in shared/corpus/scripted) lies beside the audio, its turns are
the reference for the word error rate and its title and participants make the prompt.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jiwer
from faster_whisper import BatchedInferencePipeline, decode_audio
from whisper_normalizer.english import EnglishTextNormalizer

# Run as a plain script the repository's own packages are not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from integrations.transcription.local import LocalWhisperTranscriber, build_prompt

DEFAULT_AUDIO = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "scripted" / "launch-planning.wav"
)
REPEATS = 3


def load_script(audio: Path) -> tuple[str | None, str | None, list[str]]:
    """Reference text, title and participants' names from the script beside the audio, if
    there is one."""
    script_path = audio.with_suffix(".json")
    if not script_path.is_file():
        return None, None, []
    script = json.loads(script_path.read_text())
    reference = " ".join(turn["text"] for turn in script["turns"])
    names = [participant["name"] for participant in script["participants"]]
    return reference, script.get("title"), names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", nargs="?", type=Path, default=DEFAULT_AUDIO)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    audio_path: Path = args.audio
    reference, title, names = load_script(audio_path)
    prompt = build_prompt(title, names)

    transcriber = LocalWhisperTranscriber(batch_size=args.batch_size)
    pipeline = BatchedInferencePipeline(transcriber.whisper_model)

    def bare() -> str:
        segments, _ = pipeline.transcribe(
            decode_audio(str(audio_path)),
            batch_size=args.batch_size,
            word_timestamps=True,
            initial_prompt=prompt,
        )
        return " ".join(segment.text for segment in segments)

    def ours() -> str:
        transcript = transcriber.transcribe(audio_path, title=title, participants=names)
        return " ".join(segment.text for segment in transcript.segments)

    duration = len(decode_audio(str(audio_path))) / 16_000
    print(f"audio: {audio_path.name}, {duration:.1f} s")
    print(f"model: {transcriber.model_name}, int8 on CPU")
    print(f"batch size: {args.batch_size}")
    print(f"prompt: {prompt}")
    # Warm-up: first calls pay for allocations and caches that later calls do not.
    bare()
    ours()

    runs: dict[str, Callable[[], str]] = {
        "bare faster-whisper": bare,
        "LocalWhisperTranscriber": ours,
    }
    seconds: dict[str, float] = {}
    texts: dict[str, str] = {}
    for _ in range(REPEATS):
        for label, run in runs.items():
            started = time.perf_counter()
            texts[label] = run()
            seconds[label] = min(seconds.get(label, float("inf")), time.perf_counter() - started)

    normalize = EnglishTextNormalizer()
    for label in runs:
        print(f"{label}: {seconds[label]:.2f} s (best of {REPEATS})")
        print(f"{label} real-time factor: {seconds[label] / duration:.3f}")
        if reference is not None:
            wer = jiwer.wer(normalize(reference), normalize(texts[label]))
            print(f"{label} WER: {wer:.3f}")
    ratio = seconds["LocalWhisperTranscriber"] / seconds["bare faster-whisper"]
    print(f"ours / bare: {ratio:.2f}")
    # ru_maxrss is in KiB on Linux.
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
