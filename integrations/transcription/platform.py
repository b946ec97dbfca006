"""Transcripts a meeting platform already made: WebVTT, SRT, JSON, and Zoom's saved .txt.

Nothing is transcribed here: the file is parsed into the same `Transcript` every provider
returns, so later stages cannot tell an uploaded transcript from one we made. The format
is read from the content, as subtitle players do, so a `.txt` or a file without a suffix
is recognised too; `write_vtt` and `write_srt` write files these parsers read back the same.
"""

from __future__ import annotations

import codecs
import html
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from operator import attrgetter
from pathlib import Path

import charset_normalizer
import srt
import webvtt

from integrations.diarization.base import NamedTurn
from integrations.people import is_speaker_name
from integrations.synthesis.chain import Closeable
from integrations.transcription.base import (
    MalformedTranscriptError,
    TranscribedSegment,
    Transcriber,
    Transcript,
    Word,
)

# A suffix that names a transcript sends the file to the parsers even when its content is
# broken, so the user hears what is wrong with it rather than "not an audio file".
TRANSCRIPT_SUFFIXES = frozenset({".vtt", ".srt", ".json", ".txt"})

_DEFAULT_LANGUAGE = "en"
# Enough of the file to tell its format; audio is told apart by its first bytes too.
_SNIFF_BYTES = 8192
_BOMS = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Legacy encodings in the order of how much text is written in them.
_COMMON_ENCODINGS = ("cp1252", "cp1251", "cp932", "gb18030", "cp949", "big5")
# How much more "mess" (charset-normalizer's chaos ratio) a common encoding may show
# than the best guess and still be taken.
_CHAOS_TOLERANCE = 0.05
# Control characters never occur in text; decoding binary data as a legacy code page
# would happily produce them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# re.ASCII so "\d" means 0-9, not every Unicode digit.
_VTT_TIME = re.compile(r"(?:(\d+):)?([0-5]\d):([0-5]\d)\.(\d{3})", re.ASCII)
_SRT_TIME = re.compile(r"(\d+):([0-5]\d):([0-5]\d),(\d{3})", re.ASCII)
# Cue settings (WebVTT "align:start position:0%", SRT "X1:..." coordinates) may follow
# the end time; they place the text on screen and are no part of it.
_TIMING = re.compile(r"(\S+?)[ \t]*-->[ \t]*(\S+)(?:[ \t]+.*)?")
_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
_VTT_NON_CUE_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")
# <v Name> or <v.class1.class2 Name>, as Teams and Zoom write speakers.
_VOICE = re.compile(r"<v(?:\.[^\s>]*)*[ \t]+([^>]*)>")
_TAG = re.compile(r"<[^>]*>")
# SRT has no markup of its own: players honour these HTML-like tags and nothing else, so
# "<3" or "<Dev team>" in the text is text.
_SRT_TAG = re.compile(r"</?(?:b|i|u|s|font)(?:[ \t][^>]*)?>", re.IGNORECASE)
# SSA/ASS override blocks ({\an8}, {\i1}) that subtitle editors leave in SRT files.
_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")
# ASS hard space and line breaks, written as two characters.
_ASS_SPACE = re.compile(r"\\[hNn]")
# Subtitle dialogue: each speaker's line starts with a dash ("- Bob: ok" / "- fine").
# Not "-5 degrees", and not a dash followed by a no-break space (see `_unlabelled`).
_DIALOGUE_DASH = re.compile(r"[-\u2010\u2013\u2014][ \t]*(?=[^\d\s-])")
# A speaker label: "Name: text" (also the full-width colon) or "[Name] text". Only
# ASCII space or tab may follow, so a no-break space there marks ordinary text.
# CJK text puts no space after the full-width colon.
_COLON_LABEL = re.compile(r"([^:\uff1a\n]{1,64}?)[ \t]*(?::[ \t]+|\uff1a[ \t]*)(?=\S)")
_BRACKET_LABEL = re.compile(r"\[([^\]\n]{1,64})\][ \t]+(?=\S)")
_NO_BREAK_SPACE = "\u00a0"
# Zoom's saved transcript ("Save transcript" in the meeting, meeting_saved_closed_caption.txt):
# "[Jane Doe] 10:01:02" on a line of its own, then what was said. Older clients wrote one
# line per caption: "10:01:02 Jane Doe: what was said". Times are the time of day.
_CLOCK = r"(?P<hours>\d{1,2}):(?P<minutes>[0-5]\d):(?P<seconds>[0-5]\d)"
_ZOOM_HEADER = re.compile(rf"\[([^\]\n]+)\][ \t]+{_CLOCK}[ \t]*", re.ASCII)
_ZOOM_LINE = re.compile(rf"{_CLOCK}[ \t]+(\S.*)", re.ASCII)
# Zoom's format has no end times: a caption lasts until the next, or about as long as it
# takes to say (150 words a minute).
_SECONDS_PER_WORD = 0.4
_DAY_SECONDS = 24 * 3600

_Parsed = tuple[list[TranscribedSegment], str]
_Turn = tuple[str | None, str]


class _FormatError(Exception):
    """What is wrong with the content; only the caller knows the file name to put first."""


class _NotText(Exception):
    """The bytes are no text in any encoding we can tell."""


class PlatformTranscripts:
    """A transcriber that reads a transcript the meeting platform made, and hands a
    recording (anything else) to the transcriber it wraps.

    Users upload either, under any name, so which one a file is is told by its content.
    """

    def __init__(self, recordings: Transcriber) -> None:
        self._recordings = recordings

    def close(self) -> None:
        """Release what the wrapped providers hold (HTTP clients' connections)."""
        if isinstance(self._recordings, Closeable):
            self._recordings.close()

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        timeline: Sequence[NamedTurn] = (),
        language: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        if is_transcript_file(path):
            return parse_transcript_file(path)
        return self._recordings.transcribe(
            path,
            title=title,
            participants=participants,
            timeline=timeline,
            language=language,
            on_progress=on_progress,
        )


def is_transcript_file(path: Path) -> bool:
    """A transcript by its suffix, or by its content (a `WEBVTT` header, SRT timings, JSON,
    a Zoom transcript) whatever its name."""
    if path.suffix.lower() in TRANSCRIPT_SUFFIXES:
        return True
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
    except OSError:
        return False
    try:
        text = _decode(head, complete=False)
    except _NotText:
        return False
    return _sniff(text) is not None


def parse_transcript_file(path: Path) -> Transcript:
    """Parse a platform transcript, choosing the format by content, then by suffix.

    Raises MalformedTranscriptError, with a one-line message naming the file, for any
    content that cannot be parsed. OSError (missing or unreadable file) passes through:
    that is not a problem with the transcript.
    """
    data = path.read_bytes()
    try:
        text = _decode(data, complete=True)
    except _NotText as err:
        raise MalformedTranscriptError(f"{path.name}: {err}") from err
    # Parsers split on "\n" alone.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise MalformedTranscriptError(f"{path.name}: file is empty")
    kind = _sniff(text) or _SUFFIX_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise MalformedTranscriptError(
            f"{path.name}: not a transcript: expected WebVTT, SRT, JSON segments "
            f"or a Zoom transcript"
        )
    try:
        segments, language = _PARSERS[kind](text)
    except _FormatError as err:
        raise MalformedTranscriptError(f"{path.name}: {err}") from err
    if not segments:
        raise MalformedTranscriptError(f"{path.name}: has no segments")
    ordered = tuple(sorted(segments, key=attrgetter("start")))
    return Transcript(
        segments=ordered,
        language=language,
        duration=max(segment.end for segment in ordered),
        provider=f"platform:{kind}",
    )


def _decode(data: bytes, *, complete: bool) -> str:
    """Text as subtitle players read it: a BOM first, then UTF-8, then a detected encoding.

    `complete` False reads the head of a file, whose last character may be cut in two.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = codecs.getincrementaldecoder(codec)().decode(
                    data[len(bom) :], final=complete
                )
            except UnicodeDecodeError as err:
                raise _NotText(f"not valid {codec.upper()} text") from err
            return _checked_text(text)
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
    except UnicodeDecodeError:
        # Windows-1252, Latin-1, Shift JIS...: what subtitle editors on Windows still save.
        text = _detected_text(data)
    return _checked_text(text.removeprefix("\ufeff"))


def _detected_text(data: bytes) -> str:
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise _NotText("not a text file")
    # A short file often reads about as well in several code pages (Windows-1252 and
    # -1250 differ in a few letters; Windows-1251 and Mac Cyrillic in a few more): the
    # tie goes to the one most files are written in.
    tied = [match for match in matches if match.chaos <= best.chaos + _CHAOS_TOLERANCE]
    return str(min(tied, key=_encoding_rank))


def _encoding_rank(match: charset_normalizer.CharsetMatch) -> int:
    encoding = match.encoding
    return (
        _COMMON_ENCODINGS.index(encoding)
        if encoding in _COMMON_ENCODINGS
        else len(_COMMON_ENCODINGS)
    )


def _checked_text(text: str) -> str:
    if _CONTROL.search(text):
        raise _NotText("not a text file")
    return text


def _sniff(text: str) -> str | None:
    """The format the content itself announces, or None."""
    lines = [line.strip() for line in text.lstrip("\ufeff").split("\n", 8)[:8]]
    lines = [line for line in lines if line]
    if not lines:
        return None
    first = lines[0]
    if _VTT_HEADER.fullmatch(first):
        return "vtt"
    if _ZOOM_HEADER.fullmatch(first) or _ZOOM_LINE.fullmatch(first):
        return "txt"
    if first.startswith(("{", "[")):
        return "json"
    timing = lines[1] if first.isdecimal() and len(lines) > 1 else first
    if _is_srt_timing(timing):
        return "srt"
    return None


def _is_srt_timing(line: str) -> bool:
    timing = _TIMING.fullmatch(line.strip())
    return timing is not None and _SRT_TIME.fullmatch(timing[1]) is not None


def _parse_vtt(text: str) -> _Parsed:
    (first, header), *blocks = _blocks(text, _starts_vtt_cue)
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
        segments += _segments(start, end, _vtt_turns(raw))
    return segments, language


def _starts_vtt_cue(block: list[str], line: str, is_first: bool) -> bool:
    # WebVTT ends a cue's text at any line containing "-->" (the next cue's timing, when
    # a tool such as yt-dlp leaves out the blank line): the line is only this block's
    # own timing line when it comes first, or second after a cue identifier.
    return "-->" in line and (is_first or len(block) > 1 or "-->" in block[0])


def _vtt_turns(raw: list[str]) -> list[_Turn]:
    joined = "\n".join(raw)
    voices = list(_VOICE.finditer(joined))
    if not voices:
        return _turns([_vtt_text(line) for line in raw])
    # One cue may hold several voices: "<v Bob>ok</v> <v Alice>fine".
    turns: list[_Turn] = []
    lead = _normalize(_vtt_text(joined[: voices[0].start()]))
    if lead:
        turns.append((None, lead))
    for voice, following in zip(voices, [*voices[1:], None], strict=True):
        body = joined[voice.end() : following.start() if following else len(joined)]
        speaker = _normalize(html.unescape(voice[1])) or None
        turns.append((speaker, _normalize(_vtt_text(body))))
    return turns


def _vtt_text(raw: str) -> str:
    return html.unescape(_TAG.sub("", _ASS_OVERRIDE.sub("", raw)))


def _parse_srt(text: str) -> _Parsed:
    segments = []
    for number, lines in _blocks(text, _starts_srt_cue):
        start, end, raw = _cue(number, lines, _SRT_TIME)
        segments += _segments(start, end, _turns([_srt_text(line) for line in raw]))
    return segments, _DEFAULT_LANGUAGE


def _starts_srt_cue(block: list[str], line: str, is_first: bool) -> bool:
    # A cue not followed by a blank line ends at the next timing line; SRT has no way to
    # escape "-->", so only a whole timing line counts and "a --> b" stays text.
    return _is_srt_timing(line) and any("-->" in earlier for earlier in block)


def _srt_text(line: str) -> str:
    return _ASS_SPACE.sub(" ", _ASS_OVERRIDE.sub("", _SRT_TAG.sub("", line)))


def _blocks(
    text: str, starts_cue: Callable[[list[str], str, bool], bool]
) -> list[tuple[int, list[str]]]:
    """Cue blocks, each with the 1-based number of its first line.

    A block ends at a blank line, or where `starts_cue` says a line begins the next cue;
    a cue number just before that line (SRT) goes with it.
    """
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            current = None
            continue
        if current is not None and starts_cue(current, line, len(blocks) == 1):
            first = number
            carried = []
            if len(current) > 2 and current[-1].strip().isdecimal():
                carried = [current.pop()]
                first -= 1
            current = [*carried, line]
            blocks.append((first, current))
        elif current is None:
            current = [line]
            blocks.append((number, current))
        else:
            current.append(line)
    return blocks


def _cue(number: int, lines: list[str], time: re.Pattern[str]) -> tuple[int, int, list[str]]:
    """Start and end (in milliseconds) and raw text lines of a cue block, whose first line
    may be a label.

    The label is a WebVTT cue identifier or an SRT cue number; neither carries meaning here.
    """
    at = 0 if "-->" in lines[0] else 1
    if at == len(lines) or "-->" not in lines[at]:
        raise _FormatError(f"line {number}: cue has no 'start --> end' timing line")
    number += at
    timing = _TIMING.fullmatch(lines[at].strip())
    if timing is None:
        raise _FormatError(f"line {number}: bad cue timing {_quote(lines[at].strip())}")
    start, end = (_milliseconds(value, time, number) for value in timing.groups())
    if end < start:
        raise _FormatError(f"line {number}: cue ends before it starts {_quote(lines[at].strip())}")
    return start, end, lines[at + 1 :]


def _milliseconds(value: str, time: re.Pattern[str], number: int) -> int:
    match = time.fullmatch(value)
    if match is None:
        raise _FormatError(f"line {number}: bad timestamp {_quote(value)}")
    hours, minutes, seconds, millis = match.groups()
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def _turns(lines: list[str]) -> list[_Turn]:
    """The speakers' turns in a cue's text lines: one, or one per dialogue dash."""
    groups: list[list[str]] = []
    for index, line in enumerate(lines):
        dash = _DIALOGUE_DASH.match(line.strip())
        if dash:
            groups.append([line.strip()[dash.end() :]])
        elif index == 0 or not groups:
            groups.append([line])
        else:
            groups[-1].append(line)
    # The label is read before spaces are normalized: a no-break space after a colon
    # marks ordinary text (see `_unlabelled`).
    return [_labelled(" ".join(group).strip(" \t")) for group in groups]


def _segments(start: int, end: int, turns: list[_Turn]) -> list[TranscribedSegment]:
    """One segment per turn with text; a cue's time is shared by its turns' lengths."""
    spoken = [(speaker, text) for speaker, text in turns if text]
    total = sum(len(text) for _, text in spoken)
    segments = []
    done = 0
    for speaker, text in spoken:
        # Whole milliseconds, as the file wrote them, so an export reads back the same.
        begin = start + (end - start) * done // total
        done += len(text)
        finish = start + (end - start) * done // total
        segments.append(TranscribedSegment(begin / 1000, finish / 1000, text, speaker))
    return segments


def _labelled(text: str) -> _Turn:
    """Split a speaker label ("Name: text", "[Name] text") off the text, when there is one."""
    label = _label(text)
    if label is None:
        return None, _normalize(text)
    speaker, end = label
    return speaker, _normalize(text[end:])


def _label(text: str) -> tuple[str, int] | None:
    """The speaker a label names and where the text after it starts.

    A label names someone: a few capitalized words, maybe with particles, initials, a
    "Last, First" comma, a trailing number ("Guest 2") and an affix in brackets ("(she/her)").
    A sentence that happens to hold a colon has lower-case words before it
    ("Action items are in the doc: ..."), so it stays text.
    """
    for pattern in (_BRACKET_LABEL, _COLON_LABEL):
        match = pattern.match(text)
        if match and is_speaker_name(match[1]):
            return _normalize(match[1]), match.end()
    return None


def _unlabelled(text: str) -> str:
    """`text` written so that it reads back as having no speaker.

    Where it starts like a label or a dialogue dash, the spaces after that become a
    no-break space: it looks the same, and `_normalize` makes it a space again.
    """
    while True:
        label = _label(text)
        dash = _DIALOGUE_DASH.match(text)
        end = label[1] if label else dash.end() if dash else 0
        if not end:
            return text
        # Each pass takes away the spaces one label reads to, so another label that
        # started behind it ("[Bob] Alice: ...") is found and undone on the next.
        text = text[:end].rstrip(" \t") + _NO_BREAK_SPACE + text[end:]


def _parse_zoom_txt(text: str) -> _Parsed:
    # (seconds into the day, speaker, text lines)
    entries: list[tuple[int, str | None, list[str]]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        header = _ZOOM_HEADER.fullmatch(stripped)
        caption = None if header else _ZOOM_LINE.fullmatch(stripped)
        if header:
            entries.append((_clock(header), _normalize(header[1]) or None, []))
        elif caption:
            speaker, said = _labelled(caption[4])
            entries.append((_clock(caption), speaker, [said]))
        elif entries:
            entries[-1][2].append(stripped)
        else:
            raise _FormatError(
                f"line {number}: expected '[Name] HH:MM:SS' or 'HH:MM:SS Name: text', "
                f"got {_quote(stripped)}"
            )
    starts = _elapsed([clock for clock, _, _ in entries])
    segments = []
    for index, (_, speaker, lines) in enumerate(entries):
        said = _normalize(" ".join(lines))
        if not said:
            continue
        start = starts[index]
        following = [later for later in starts[index + 1 :] if later > start]
        end = following[0] if following else start + len(said.split()) * _SECONDS_PER_WORD
        segments.append(TranscribedSegment(float(start), float(end), said, speaker))
    return segments, _DEFAULT_LANGUAGE


def _clock(match: re.Match[str]) -> int:
    hours, minutes, seconds = (int(match[name]) for name in ("hours", "minutes", "seconds"))
    return (hours * 60 + minutes) * 60 + seconds


def _elapsed(clocks: list[int]) -> list[int]:
    """Seconds since the first caption, across midnight."""
    elapsed = []
    day = 0
    previous = clocks[0] if clocks else 0
    for clock in clocks:
        # Half a day backwards is the clock passing midnight, not Zoom going back in time.
        if clock + day < previous - _DAY_SECONDS // 2:
            day += _DAY_SECONDS
        previous = clock + day
        elapsed.append(previous - clocks[0])
    return elapsed


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
        if "segments" not in data and isinstance(data.get(_UNTIMED_TURNS), list):
            return _untimed_turns(data[_UNTIMED_TURNS]), language
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


# Meeting corpora and minute-takers' exports (QMSum's AMI and ICSI meetings among them)
# keep who said what in order, without times.
_UNTIMED_TURNS = "meeting_transcripts"


def _untimed_turns(turns: list[object]) -> list[TranscribedSegment]:
    """Turns in spoken order, timed at an even speaking pace (`_SECONDS_PER_WORD`): the
    order and the lengths are right, the clock times are estimates."""
    segments = []
    elapsed = 0.0
    for index, item in enumerate(turns):
        where = f"{_UNTIMED_TURNS}[{index}]"
        fields = _json_object(item, where)
        text = fields.get("content", fields.get("text"))
        if not isinstance(text, str):
            raise _FormatError(f"{where}: 'content' must be a string, got {_json_type(text)}")
        speaker = _json_speaker(fields, where)
        said = _normalize(text)
        if not said:
            continue
        end = elapsed + len(said.split()) * _SECONDS_PER_WORD
        segments.append(TranscribedSegment(round(elapsed, 3), round(end, 3), said, speaker))
        elapsed = end
    return segments


def _json_segment(item: object, where: str) -> TranscribedSegment:
    fields = _json_object(item, where)
    start, end = _json_span(fields, where)
    text = fields.get("text")
    if not isinstance(text, str):
        raise _FormatError(f"{where}: 'text' must be a string, got {_json_type(text)}")
    speaker = _json_speaker(fields, where)
    words = fields.get("words")
    if words is not None and not isinstance(words, list):
        raise _FormatError(f"{where}: 'words' must be a list, got {_json_type(words)}")
    return TranscribedSegment(
        start=start,
        end=end,
        text=_normalize(text),
        speaker=speaker,
        words=tuple(_json_word(word, f"{where}.words[{i}]") for i, word in enumerate(words or ())),
    )


def _json_speaker(fields: dict[str, object], where: str) -> str | None:
    speaker = fields.get("speaker")
    if speaker is not None and not isinstance(speaker, str):
        raise _FormatError(
            f"{where}: 'speaker' must be a string or null, got {_json_type(speaker)}"
        )
    return _normalize(speaker or "") or None


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


def write_vtt(segments: Sequence[TranscribedSegment]) -> str:
    """WebVTT with speakers as voice tags; `<`, `&` and `>` (so also "-->") escaped."""
    captions = [
        webvtt.Caption(
            start=str(webvtt.models.Timestamp.from_seconds(segment.start)),
            end=str(webvtt.models.Timestamp.from_seconds(segment.end)),
            text=f"<v {_escape(segment.speaker)}>{_escape(segment.text)}"
            if segment.speaker
            else _escape(_unlabelled(_normalize(segment.text))),
        )
        for segment in segments
    ]
    return str(webvtt.WebVTT(captions=captions).content)


def write_srt(segments: Sequence[TranscribedSegment]) -> str:
    """SRT with speakers as "Name: " prefixes, the way Zoom writes them."""
    return str(
        srt.compose(
            srt.Subtitle(
                index,
                timedelta(milliseconds=round(segment.start * 1000)),
                timedelta(milliseconds=round(segment.end * 1000)),
                _srt_content(segment),
            )
            for index, segment in enumerate(segments, start=1)
        )
    )


def _srt_content(segment: TranscribedSegment) -> str:
    text = _normalize(segment.text)
    if segment.speaker:
        return f"{_normalize(segment.speaker)}: {text}"
    return _unlabelled(text)


def _escape(text: str) -> str:
    # "-->" becomes "--&gt;". One line: a line break would end the cue's text early.
    return html.escape(text.replace("\n", " "), quote=False)


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _quote(text: str) -> str:
    """repr() keeps the message on one line; the cut keeps it short."""
    return repr(text if len(text) <= 60 else text[:60] + "...")


_PARSERS: dict[str, Callable[[str], _Parsed]] = {
    "vtt": _parse_vtt,
    "srt": _parse_srt,
    "json": _parse_json,
    "txt": _parse_zoom_txt,
}
_SUFFIX_FORMATS = {".vtt": "vtt", ".srt": "srt", ".json": "json", ".txt": "txt"}
