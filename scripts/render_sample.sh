#!/usr/bin/env bash
# Re-render the demo meeting (pipeline/sample/standup.json) to audio.
#
# Needs espeak-ng and sox (apt-get install espeak-ng sox) plus the shared
# renderer ../shared/tools/render_meeting.py (override with RENDER_MEETING).
# The outputs -- standup.ogg and standup.timeline.json -- are committed, so
# `minutes demo` never needs espeak-ng or sox; run this only after editing the
# JSON, then re-check that whisper still transcribes names and decisions right.
set -euo pipefail

cd "$(dirname "$0")/.."
SAMPLE=pipeline/sample
RENDER=${RENDER_MEETING:-../shared/tools/render_meeting.py}

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "render_sample.sh: $tool is missing (apt-get install espeak-ng sox)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$RENDER" "$SAMPLE/standup.json" "$tmp" >/dev/null
# Ogg Vorbis, mono 16 kHz, quality 1: ~330 KB for ~100 s, and whisper
# transcribes it as well as the WAV. The 3 MB WAV stays out of git.
sox "$tmp/standup.wav" -r 16000 -c 1 -C 1 "$SAMPLE/standup.ogg"
cp "$tmp/standup.timeline.json" "$SAMPLE/standup.timeline.json"
echo "$SAMPLE/standup.ogg: $(soxi -d "$SAMPLE/standup.ogg"), $(du -h "$SAMPLE/standup.ogg" | cut -f1)"
