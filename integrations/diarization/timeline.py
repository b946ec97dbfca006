"""A speaker timeline given with the upload: who spoke when, by name.

Meeting platforms record the active speaker; exported, that is JSON
`[{"name", "email"?, "start", "end"}]` (our upload hook's `speaker_timeline`) or an RTTM
file (NIST's diarization format, what diarization tools write). Of all the ways to tell
who spoke, this is the most trusted: it names the words directly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from integrations.diarization.base import NamedTurn, SpeakerTurn
from integrations.diarization.speakers import assign_speakers
from integrations.transcription.base import Transcript

# RTTM: "SPEAKER file channel onset duration <NA> <NA> name <NA> <NA>", one turn a line.
_RTTM_FIELDS = 8


class MalformedTimelineError(ValueError):
    """A timeline that cannot be read; the message says where and why, on one line."""


def parse_timeline(text: str) -> tuple[NamedTurn, ...]:
    """Turns from JSON (`[{"name", "email"?, "start", "end"}]`) or RTTM text, in time order.

    Raises MalformedTimelineError for anything else, or for no turns at all.
    """
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise MalformedTimelineError(
                f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
            ) from err
        turns = timeline_from_json(data)
    else:
        turns = _rttm(stripped)
    if not turns:
        raise MalformedTimelineError("the timeline has no turns")
    return turns


def timeline_from_json(data: object) -> tuple[NamedTurn, ...]:
    """Turns from the JSON list the hook takes and the conversation stores."""
    if not isinstance(data, list):
        raise MalformedTimelineError("expected a list of turns")
    turns = []
    for index, item in enumerate(data):
        where = f"turn {index + 1}"
        if not isinstance(item, Mapping):
            raise MalformedTimelineError(f"{where}: expected an object")
        name, email = item.get("name"), item.get("email")
        if not isinstance(name, str) or not name.strip():
            raise MalformedTimelineError(f"{where}: 'name' must be a non-empty string")
        if email is not None and not isinstance(email, str):
            raise MalformedTimelineError(f"{where}: 'email' must be a string")
        start, end = (
            _seconds(item.get("start"), where, "start"),
            _seconds(item.get("end"), where, "end"),
        )
        turns.append(_turn(start, end, " ".join(name.split()), email, where))
    return tuple(sorted(turns, key=lambda turn: turn.start))


def timeline_as_json(turns: Sequence[NamedTurn]) -> list[dict[str, Any]]:
    """What `timeline_from_json` reads back as `turns`."""
    return [
        {"name": turn.name, "email": turn.email, "start": turn.start, "end": turn.end}
        for turn in turns
    ]


def name_from_timeline(transcript: Transcript, turns: Sequence[NamedTurn]) -> Transcript:
    """Every word of `transcript` given the name of the turn it overlaps most (the nearest
    turn's when it overlaps none); segments are split where the name changes."""
    return assign_speakers(
        transcript,
        [SpeakerTurn(turn.start, turn.end, turn.name) for turn in turns],
        relabel=False,
    )


def _rttm(text: str) -> tuple[NamedTurn, ...]:
    turns = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or line.lstrip().startswith(";;"):
            continue  # blank, or an RTTM comment
        where = f"line {number}"
        if fields[0] != "SPEAKER" or len(fields) < _RTTM_FIELDS:
            raise MalformedTimelineError(
                f"{where}: expected JSON turns or RTTM 'SPEAKER file channel onset duration "
                f"<NA> <NA> name ...'"
            )
        onset = _seconds(_number(fields[3]), where, "onset")
        duration = _seconds(_number(fields[4]), where, "duration")
        turns.append(_turn(onset, onset + duration, fields[7], None, where))
    return tuple(sorted(turns, key=lambda turn: turn.start))


def _number(field: str) -> float | None:
    try:
        return float(field)
    except ValueError:
        return None


def _seconds(value: object, where: str, key: str) -> float:
    # bool is an int, but true/false as a time is a bug in whatever wrote the timeline.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedTimelineError(f"{where}: {key!r} must be a number of seconds")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise MalformedTimelineError(f"{where}: {key!r} must be finite and not negative")
    return seconds


def _turn(start: float, end: float, name: str, email: str | None, where: str) -> NamedTurn:
    if end <= start:
        raise MalformedTimelineError(f"{where}: ends before it starts")
    return NamedTurn(start, end, name, email.strip() if email else None)
