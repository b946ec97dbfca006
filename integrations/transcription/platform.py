"""Transcripts a meeting platform already made (Zoom, Teams, Meet exports): WebVTT, SRT, JSON.

Nothing is transcribed here: the file is parsed into the same `Transcript` every provider
returns, so later stages cannot tell an uploaded transcript from one we made.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path

from integrations.transcription.base import (
    MalformedTranscriptError,
    TranscribedSegment,
    Transcript,
    Word,
)

TRANSCRIPT_SUFFIXES = frozenset({".vtt", ".srt", ".json"})

_DEFAULT_LANGUAGE = "en"

# re.ASCII so "\d" means 0-9, not every Unicode digit.
_VTT_TIME = re.compile(r"(?:(\d+):)?([0-5]\d):([0-5]\d)\.(\d{3})", re.ASCII)
_SRT_TIME = re.compile(r"(\d+):([0-5]\d):([0-5]\d),(\d{3})", re.ASCII)
# Cue settings (WebVTT "align:start", SRT "X1:..." coordinates) may follow the end time.
_TIMING = re.compile(r"(\S+?)[ \t]*-->[ \t]*(\S+)(?:[ \t]+.*)?")
_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
_VTT_NON_CUE_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")
# <v Name> or <v.class1.class2 Name>, as Teams and Zoom write speakers.
_VOICE = re.compile(r"<v(?:\.[^\s>]*)*[ \t]+([^>]*)>")
_TAG = re.compile(r"<[^>]*>")
_BRACKET_PREFIX = re.compile(r"\[([^\]]*)\][ \t]*(.*)")
# Apostrophes (straight and typographic), hyphens and initials' dots occur inside names.
_NAME_PUNCTUATION = frozenset("'\u2019-.")

_Parsed = tuple[list[TranscribedSegment], str]


class _FormatError(Exception):
    """What is wrong with the content; only the caller knows the file name to put first."""


def is_transcript_file(path: Path) -> bool:
    return path.suffix.lower() in TRANSCRIPT_SUFFIXES


def parse_transcript_file(path: Path) -> Transcript:
    """Parse a platform transcript, choosing the format by suffix.

    Raises MalformedTranscriptError, with a one-line message naming the file, for any
    content that cannot be parsed. OSError (missing or unreadable file) passes through:
    that is not a problem with the transcript.
    """
    kind = path.suffix.lower()
    parser = _PARSERS.get(kind)
    if parser is None:
        raise MalformedTranscriptError(
            f"{path.name}: not a transcript file (expected .json, .srt or .vtt)"
        )
    try:
        # utf-8-sig drops the BOM Windows tools (Teams exports) put first; universal
        # newlines turn CRLF and CR into "\n", so parsers split on "\n" alone.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise MalformedTranscriptError(f"{path.name}: not UTF-8 text") from err
    if not text.strip():
        raise MalformedTranscriptError(f"{path.name}: file is empty")
    try:
        segments, language = parser(text)
    except _FormatError as err:
        raise MalformedTranscriptError(f"{path.name}: {err}") from err
    if not segments:
        raise MalformedTranscriptError(f"{path.name}: has no segments")
    ordered = tuple(sorted(segments, key=attrgetter("start")))
    return Transcript(
        segments=ordered,
        language=language,
        duration=max(segment.end for segment in ordered),
        provider=f"platform:{kind.removeprefix('.')}",
    )


def _parse_vtt(text: str) -> _Parsed:
    (first, header), *blocks = _blocks(text)
    if not _VTT_HEADER.fullmatch(header[0]):
        raise _FormatError(f"line {first}: expected the 'WEBVTT' header, got {_quote(header[0])}")
    language = _DEFAULT_LANGUAGE
    # Metadata lines such as "Language: de" may follow the header line.
    for line in header[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "language" and value.strip():
            language = value.strip()
    segments = []
    for number, lines in blocks:
        if _VTT_NON_CUE_BLOCK.fullmatch(lines[0]):
            continue
        start, end, raw = _cue(number, lines, _VTT_TIME)
        text = _normalize(html.unescape(_TAG.sub("", raw)))
        voice = _VOICE.search(raw)
        if voice:
            speaker = _normalize(html.unescape(voice[1])) or None
        else:
            speaker, text = _name_prefix(text)
        if text:
            segments.append(TranscribedSegment(start, end, text, speaker))
    return segments, language


def _parse_srt(text: str) -> _Parsed:
    segments = []
    for number, lines in _blocks(text):
        start, end, raw = _cue(number, lines, _SRT_TIME)
        text = _normalize(_TAG.sub("", raw))
        bracket = _BRACKET_PREFIX.fullmatch(text)
        if bracket and bracket[2] and _is_name(bracket[1]):
            speaker: str | None = _normalize(bracket[1])
            text = bracket[2]
        else:
            speaker, text = _name_prefix(text)
        if text:
            segments.append(TranscribedSegment(start, end, text, speaker))
    return segments, _DEFAULT_LANGUAGE


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks, each with the 1-based number of its first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            current = None
        elif current is None:
            current = [line]
            blocks.append((number, current))
        else:
            current.append(line)
    return blocks


def _cue(number: int, lines: list[str], time: re.Pattern[str]) -> tuple[float, float, str]:
    """Start, end and raw text of a cue block, whose first line may be a label.

    The label is a WebVTT cue identifier or an SRT cue number; neither carries meaning here.
    """
    at = 0 if "-->" in lines[0] else 1
    if at == len(lines) or "-->" not in lines[at]:
        raise _FormatError(f"line {number}: cue has no 'start --> end' timing line")
    number += at
    timing = _TIMING.fullmatch(lines[at].strip())
    if timing is None:
        raise _FormatError(f"line {number}: bad cue timing {_quote(lines[at].strip())}")
    start, end = (_timestamp(value, time, number) for value in timing.groups())
    if end < start:
        raise _FormatError(f"line {number}: cue ends before it starts {_quote(lines[at].strip())}")
    return start, end, " ".join(lines[at + 1 :])


def _timestamp(value: str, time: re.Pattern[str], number: int) -> float:
    match = time.fullmatch(value)
    if match is None:
        raise _FormatError(f"line {number}: bad timestamp {_quote(value)}")
    hours, minutes, seconds, millis = match.groups()
    # One division of an exact integer, so "00:00:01.200" becomes exactly float("1.2").
    total_ms = ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)
    return total_ms / 1000


def _name_prefix(text: str) -> tuple[str | None, str]:
    """Split Zoom's plain "Alice Chen: text" into speaker and text, when the prefix is a name."""
    head, colon, rest = text.partition(":")
    rest = rest.strip()
    if colon and rest and _is_name(head):
        return _normalize(head), rest
    return None, text


def _is_name(candidate: str) -> bool:
    # 1-4 capitalized words, so "Action items: ..." or "Q3: ..." stay text.
    words = candidate.split()
    return 1 <= len(words) <= 4 and all(
        word[0].isupper() and all(char.isalpha() or char in _NAME_PUNCTUATION for char in word)
        for word in words
    )


def _parse_json(text: str) -> _Parsed:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise _FormatError(
            f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from err
    except (ValueError, RecursionError) as err:
        # json.loads raises these for integers over 4300 digits and for deep nesting.
        raise _FormatError(f"not valid JSON: {_quote(str(err))}") from err
    language = _DEFAULT_LANGUAGE
    if isinstance(data, dict):
        declared = data.get("language")
        if declared is not None:
            if not isinstance(declared, str) or not declared.strip():
                raise _FormatError("'language' must be a non-empty string")
            language = declared.strip()
        data = data.get("segments")
    if not isinstance(data, list):
        raise _FormatError(
            f"expected a list of segments or an object with a 'segments' list, "
            f"got {_json_type(data)}"
        )
    segments = []
    for index, item in enumerate(data):
        segment = _json_segment(item, f"segments[{index}]")
        if segment.text:
            segments.append(segment)
    return segments, language


def _json_segment(item: object, where: str) -> TranscribedSegment:
    fields = _json_object(item, where)
    start, end = _json_span(fields, where)
    text = fields.get("text")
    if not isinstance(text, str):
        raise _FormatError(f"{where}: 'text' must be a string, got {_json_type(text)}")
    speaker = fields.get("speaker")
    if speaker is not None and not isinstance(speaker, str):
        raise _FormatError(
            f"{where}: 'speaker' must be a string or null, got {_json_type(speaker)}"
        )
    words = fields.get("words")
    if words is not None and not isinstance(words, list):
        raise _FormatError(f"{where}: 'words' must be a list, got {_json_type(words)}")
    return TranscribedSegment(
        start=start,
        end=end,
        text=_normalize(text),
        speaker=_normalize(speaker or "") or None,
        words=tuple(_json_word(word, f"{where}.words[{i}]") for i, word in enumerate(words or ())),
    )


def _json_word(item: object, where: str) -> Word:
    fields = _json_object(item, where)
    start, end = _json_span(fields, where)
    text = fields.get("word", fields.get("text"))
    if not isinstance(text, str):
        raise _FormatError(f"{where}: 'word' must be a string, got {_json_type(text)}")
    probability = None
    if fields.get("probability") is not None:
        probability = _json_number(fields, "probability", where)
        if probability > 1:
            raise _FormatError(f"{where}: 'probability' is over 1 ({probability})")
    return Word(text.strip(), start, end, probability)


def _json_object(item: object, where: str) -> dict[str, object]:
    if not isinstance(item, dict):
        raise _FormatError(f"{where}: expected an object, got {_json_type(item)}")
    return item


def _json_span(fields: dict[str, object], where: str) -> tuple[float, float]:
    start = _json_number(fields, "start", where)
    end = _json_number(fields, "end", where)
    if end < start:
        raise _FormatError(f"{where}: ends before it starts (start {start}, end {end})")
    return start, end


def _json_number(fields: dict[str, object], key: str, where: str) -> float:
    """A finite, non-negative number: seconds, or a probability (bounded above by the caller)."""
    value = fields.get(key)
    # bool is an int subclass, but true/false as a time is a bug in whatever wrote the file.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FormatError(f"{where}: {key!r} must be a number, got {_json_type(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise _FormatError(f"{where}: {key!r} is not a finite number")
    if number < 0:
        raise _FormatError(f"{where}: {key!r} is negative ({number})")
    return number


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    # json.loads makes nothing but these types.
    return "array" if isinstance(value, list) else "object"


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _quote(text: str) -> str:
    """repr() keeps the message on one line; the cut keeps it short."""
    return repr(text if len(text) <= 60 else text[:60] + "...")


_PARSERS: dict[str, Callable[[str], _Parsed]] = {
    ".vtt": _parse_vtt,
    ".srt": _parse_srt,
    ".json": _parse_json,
}
