"""Time and score VoiceDiarizer on the voices corpus, beside transcribing the same files.

    python bench/diarize.py [MEETING ...]

For each recording in shared/corpus/voices (or those named): diarization wall and CPU
seconds per audio minute, its error against the true timeline (missed, false alarm and
confusion as shares of the speech: the diarization error rate), then LocalWhisperTranscriber
on the same file and the share of its segment time given to the right person once the
turns are on it. The target: diarization adds at most 30% to the transcription's time.
Peak memory is the process's (ru_maxrss) after all diarizations, before any transcription
loads Whisper. One run each: the machine is shared, so wall times are noisy and the CPU
seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Run as a plain script the repository's own packages are not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from integrations.diarization.base import SpeakerTurn
from integrations.diarization.scoring import score
from integrations.diarization.speakers import assign_speakers
from integrations.diarization.voice import VoiceDiarizer
from integrations.diarization.voice_encoder import VoiceEncoder
from integrations.transcription.local import LocalWhisperTranscriber

VOICES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "voices"


@dataclass(frozen=True)
class Timed:
    wall: float
    cpu: float


def true_turns(meeting: str) -> list[SpeakerTurn]:
    timeline = json.loads((VOICES / f"{meeting}.timeline.json").read_text())
    return [SpeakerTurn(turn["start"], turn["end"], turn["speaker"]) for turn in timeline]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("meetings", nargs="*")
    args = parser.parse_args()
    meetings = args.meetings or sorted(p.name.removesuffix(".flac") for p in VOICES.glob("*.flac"))

    # The weights load outside the timing, as a worker loads them once.
    diarizer = VoiceDiarizer(VoiceEncoder.pretrained())
    print(f"before diarizing: peak {peak_mb():.0f} MB")
    turns: dict[str, tuple[SpeakerTurn, ...]] = {}
    diarize_time: dict[str, Timed] = {}
    for meeting in meetings:
        wall, cpu = time.perf_counter(), time.process_time()
        turns[meeting] = diarizer.diarize(VOICES / f"{meeting}.flac")
        diarize_time[meeting] = Timed(time.perf_counter() - wall, time.process_time() - cpu)
    print(f"after diarizing: peak {peak_mb():.0f} MB")

    transcriber = LocalWhisperTranscriber()
    for meeting in meetings:
        wall, cpu = time.perf_counter(), time.process_time()
        transcript = transcriber.transcribe(VOICES / f"{meeting}.flac")
        transcribe_time = Timed(time.perf_counter() - wall, time.process_time() - cpu)
        minutes = transcript.duration / 60
        truth = true_turns(meeting)
        turn_score = score(truth, turns[meeting])
        labelled = assign_speakers(transcript, turns[meeting])
        segment_score = score(
            truth,
            [SpeakerTurn(s.start, s.end, s.speaker or "") for s in labelled.segments],
        )
        spent = diarize_time[meeting]
        print(
            f"{meeting} ({transcript.duration:.0f} s, "
            f"{len({t.speaker for t in truth})} people, "
            f"{len({t.speaker for t in turns[meeting]})} voices found)\n"
            f"  diarize:    {spent.wall / minutes:.2f} s wall, {spent.cpu / minutes:.2f} s CPU "
            "per audio minute\n"
            f"  transcribe: {transcribe_time.wall / minutes:.2f} s wall, "
            f"{transcribe_time.cpu / minutes:.2f} s CPU per audio minute\n"
            f"  diarization adds {spent.wall / transcribe_time.wall:.0%} wall, "
            f"{spent.cpu / transcribe_time.cpu:.0%} CPU to transcription\n"
            f"  error rate {turn_score.error_rate:.1%}: missed "
            f"{turn_score.missed / turn_score.speech:.1%}, false alarm "
            f"{turn_score.false_alarm / turn_score.speech:.1%}, confusion "
            f"{turn_score.confusion / turn_score.speech:.1%}\n"
            f"  segment time given to the right person: {segment_score.attributed:.1%}"
        )


if __name__ == "__main__":
    main()
