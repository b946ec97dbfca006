"""Word error rate of the same speech at 16 kHz and at a phone's 8 kHz.

    python bench/phone_audio.py [AUDIO] [--model tiny.en|base|auto|PATH]

sox renders AUDIO (by default the scripted launch-planning meeting, whose script beside it
is the reference) at 8 kHz; then three recordings are transcribed: the original, the 8 kHz
one as minutes reads it (PyAV resamples it to 16 kHz), and the 8 kHz one brought back to
16 kHz by sox's very-high-quality resampler first. When the last two score alike, the
resampler is not what loses words: the missing band above 4 kHz is.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer
from whisper_normalizer.english import EnglishTextNormalizer

# Run as a plain script the repository's own packages are not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from transcribe import DEFAULT_AUDIO, load_script

from integrations.transcription.local import LocalWhisperTranscriber


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", nargs="?", type=Path, default=DEFAULT_AUDIO)
    parser.add_argument("--model", default=None, help="WHISPER_MODEL (default tiny.en)")
    args = parser.parse_args()
    reference, title, names = load_script(args.audio)
    if reference is None:
        parser.error(f"{args.audio}: no script (.json) beside it to score against")
    transcriber = LocalWhisperTranscriber(args.model)
    normalize = EnglishTextNormalizer()
    with tempfile.TemporaryDirectory() as folder:
        phone = Path(folder) / "8k.wav"
        upsampled = Path(folder) / "8k-sox-16k.wav"
        subprocess.run(["sox", str(args.audio), "-r", "8000", "-c", "1", str(phone)], check=True)
        subprocess.run(["sox", str(phone), "-r", "16000", str(upsampled), "rate", "-v"], check=True)
        for name, path in (
            ("16 kHz", args.audio),
            ("8 kHz, PyAV resampling", phone),
            ("8 kHz, sox -v resampling", upsampled),
        ):
            started = time.perf_counter()
            transcript = transcriber.transcribe(
                path, title=title, participants=names, language="en"
            )
            said = " ".join(segment.text for segment in transcript.segments)
            wer = jiwer.wer(normalize(reference), normalize(said))
            seconds = time.perf_counter() - started
            print(f"{name:26} WER {wer:.3f}  ({transcript.model}, {seconds:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
