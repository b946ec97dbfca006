"""Notes from a language model behind any OpenAI-compatible chat API.

OpenAI, vLLM, Ollama, llama.cpp's server and LM Studio all serve `/chat/completions`, but
not all take the same structured-output request: the provider asks for a JSON schema
first, falls back to `json_object` (which llama.cpp's server constrains with a schema of
its own), then to plain text it reads the first JSON object from, and remembers per
client which of these the server took.

The transcript goes in as numbered lines (`[S17 00:05:13 Maria Rossi] text`) so the model
can cite the segments each item comes from; what it cites is passed through as said, for
the grounding and owner/date resolution applied after every provider to check.
"""

from __future__ import annotations

import enum
import functools
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from integrations.http import ServiceClient
from integrations.synthesis.base import (
    ActionItem,
    Evidence,
    MeetingContext,
    NoteItem,
    Notes,
    SynthesisConfigurationError,
    SynthesisError,
    SynthesisUnavailableError,
    Utterance,
)
from integrations.timestamps import clock

# A cheap estimate, on the safe side: English prose runs about 4 characters a token with
# OpenAI's tokenizers, but transcript lines with their labels 2.5 to 3.2 with the smaller
# vocabularies of the local models an 8k context comes with (SmolLM2's, measured). When it
# still falls short, the server's context-length error splits the part smaller.
_CHARS_PER_TOKEN = 3
# Below this a transcript part holds too little to be worth a request: the model's context
# cannot even hold the instructions.
_MIN_PART_TOKENS = 64
# Room for the reply: notes of a 6000-token part fit well within it, and a small model that
# loops in a list stops here instead of filling its whole context.
_MAX_REPLY_TOKENS = 1500

# Per list in one reply: room for every decision of a long part, and all of them together
# within the reply's tokens.
_MAX_ITEMS = 10
_MAX_CITED = 8

_JSON_SCHEMA_NAME = "meeting_notes"
# How servers phrase "the prompt does not fit": OpenAI and vLLM ("maximum context length"),
# llama.cpp ("exceed context window", "exceeds the available context size"), others
# ("too many tokens").
_CONTEXT_WORDING = re.compile(r"context (length|window|size)|maximum context|too many tokens", re.I)
_FORMAT_WORDING = re.compile(r"response_format|json_schema", re.I)


class _OutputMode(enum.Enum):
    """How the reply is asked for, most constrained first."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TEXT = "text"


_FALLBACK = {
    _OutputMode.JSON_SCHEMA: _OutputMode.JSON_OBJECT,
    _OutputMode.JSON_OBJECT: _OutputMode.TEXT,
}


def _segment_number(value: object) -> object:
    # Models often cite the label as written ("S17"); the number is what was meant.
    if isinstance(value, str):
        return value.strip().removeprefix("S").removeprefix("s")
    return value


class _ReplyModel(BaseModel):
    # Every field required in the schema sent (OpenAI's strict mode wants them all, and a
    # constrained decoder then writes them all), yet lists default to empty when a server
    # without constrained decoding leaves one out.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"additionalProperties": False},
    )


def _at_most(items: int) -> Any:
    """A list the constrained decoder closes after `items`: a small model otherwise repeats
    one item until the reply runs out of tokens. Longer lists from a server that does not
    enforce the schema are still read."""
    return Field(default_factory=list, json_schema_extra={"maxItems": items})


class _EvidenceReply(_ReplyModel):
    segment_ids: list[Annotated[int, BeforeValidator(_segment_number)]] = _at_most(_MAX_CITED)
    quote: str


class _ItemReply(_ReplyModel):
    text: str
    evidence: _EvidenceReply | None = None


class _ActionReply(_ItemReply):
    owner: str | None = None
    due: str | None = None


class _NotesReply(_ReplyModel):
    summary: str
    decisions: list[_ItemReply] = _at_most(_MAX_ITEMS)
    action_items: list[_ActionReply] = _at_most(_MAX_ITEMS)
    open_questions: list[_ItemReply] = _at_most(_MAX_ITEMS)
    topics: list[str] = _at_most(_MAX_ITEMS)


def _strict(schema: Any, key: str | None = None) -> Any:
    """The schema without the annotations OpenAI's strict mode refuses ("default") or that
    only cost tokens ("title"); property names that happen to read so stay."""
    if isinstance(schema, dict):
        return {
            name: _strict(value, name)
            for name, value in schema.items()
            if key == "properties" or name not in ("default", "title")
        }
    if isinstance(schema, list):
        return [_strict(value) for value in schema]
    return schema


_NOTES_SCHEMA = _strict(_NotesReply.model_json_schema(mode="serialization"))


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ChatCompletion(BaseModel):
    choices: list[_Choice] = Field(min_length=1)
    usage: _TokenUsage | None = None


class _ContextTooLongError(Exception):
    """The server's context cannot hold the request: ask with a smaller part."""


class _FormatRefusedError(Exception):
    """The server does not take this `response_format`: ask the next way."""


class _InvalidReplyError(Exception):
    """The reply is not notes: no JSON object, or one of another shape."""


@dataclass
class _Usage:
    """Tokens the server reported over all the calls for one meeting."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported: bool = False

    def add(self, usage: _TokenUsage | None) -> None:
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
            self.reported = True


@dataclass(frozen=True, slots=True)
class _Line:
    """One transcript line as the model reads it: `[S17 00:05:13 Maria Rossi] text`."""

    label: str
    text: str

    def __str__(self) -> str:
        return f"{self.label} {self.text}"

    @property
    def tokens(self) -> int:
        return _estimate_tokens(str(self))


_NOTES_SHAPE = """\
{"summary": "...",
 "decisions": [{"text": "...", "evidence": {"segment_ids": [17], "quote": "..."}}],
 "action_items": [{"text": "...", "owner": null, "due": null,
                   "evidence": {"segment_ids": [21, 22], "quote": "..."}}],
 "open_questions": [{"text": "...", "evidence": {"segment_ids": [30], "quote": "..."}}],
 "topics": ["..."]}"""

_NOTES_INSTRUCTIONS = f"""\
You write the notes of a meeting from its transcript. Each transcript line starts with a \
label [S<number> <time> <speaker>]; S<number> is the line's segment id.

Answer with one JSON object and nothing else, shaped like this:
{_NOTES_SHAPE}

- summary: a few sentences on what the meeting covered and concluded.
- decisions: what the meeting agreed on or settled.
- action_items: tasks someone took on. owner: the person or role named as doing it, as \
written in the transcript, or null. due: the deadline phrase exactly as said ("next \
Friday"), or null.
- open_questions: questions the meeting left unanswered.
- Every item cites its evidence: segment_ids, the numbers of the lines that say it, and \
quote, a few words copied exactly from one of those lines.
- Write only what the transcript says; an empty list is a fine answer.
- topics: a few short names of the subjects discussed."""

_MERGE_INSTRUCTIONS = f"""\
You combine the notes written separately for consecutive parts of one meeting into the \
notes of the whole meeting.

Answer with one JSON object and nothing else, of the same shape as each part's notes:
{_NOTES_SHAPE}

- Keep every item's evidence (segment_ids and quote) exactly as the parts give it.
- Items that say the same thing become one item, with the segment ids of both.
- summary: a few sentences on the whole meeting. topics: its main subjects."""

_REPAIR_REQUEST = (
    "That reply could not be read as the notes ({error}). Answer again with the complete "
    "JSON object only."
)


class OpenAISynthesizer:
    """Writes notes with a chat model behind an OpenAI-compatible API.

    One per process: it owns an `httpx.Client` (a connection pool), and remembers which way
    of asking for JSON the server took. `close()` closes the pool.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str | None,
        api_key: str | None = None,
        max_input_tokens: int = 6000,
        timeout_seconds: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not model or not model.strip():
            raise SynthesisConfigurationError(
                "SYNTHESIS_MODEL is not set: name the chat model OPENAI_BASE_URL serves"
            )
        if max_input_tokens < _MIN_PART_TOKENS:
            raise SynthesisConfigurationError(
                f"SYNTHESIS_MAX_INPUT_TOKENS must be at least {_MIN_PART_TOKENS}"
            )
        self.model = model.strip()
        self.max_input_tokens = max_input_tokens
        self._service = ServiceClient(
            base_url=base_url,
            api_key=api_key,
            key_setting="OPENAI_API_KEY",
            url_setting="OPENAI_BASE_URL",
            timeout_seconds=timeout_seconds,
            refused=SynthesisConfigurationError,
            unavailable=SynthesisUnavailableError,
            transport=transport,
        )
        self._mode = _OutputMode.JSON_SCHEMA
        self._mode_lock = threading.Lock()

    def close(self) -> None:
        self._service.close()

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        started = time.monotonic()
        usage = _Usage()
        lines = [line for utterance in utterances for line in _lines(utterance)]
        reply = _NotesReply(summary="")
        if lines:
            parts = _split(lines, self.max_input_tokens)
            noted = [note for part in parts for note in self._notes_of(part, meeting, usage)]
            reply = self._merged(noted, meeting, usage)
        return _notes(
            reply,
            model=self.model,
            usage=usage,
            seconds=time.monotonic() - started,
        )

    def _notes_of(
        self, part: list[_Line], meeting: MeetingContext, usage: _Usage
    ) -> list[_NotesReply]:
        """Notes of one part of the transcript; of several smaller ones when it does not fit
        the server's context after all."""
        try:
            return [self._ask(_NOTES_INSTRUCTIONS, _transcript_message(part, meeting), usage)]
        except _ContextTooLongError:
            budget = sum(line.tokens for line in part) // 2
            if budget < _MIN_PART_TOKENS:
                raise SynthesisError(
                    f"{self._service.shown_url}: the model's context cannot hold even "
                    f"{budget * 2} tokens of transcript"
                ) from None
            return [
                note
                for smaller in _split(part, budget)
                for note in self._notes_of(smaller, meeting, usage)
            ]

    def _merged(
        self, noted: list[_NotesReply], meeting: MeetingContext, usage: _Usage
    ) -> _NotesReply:
        """One set of notes from the notes of consecutive parts, merged in halves when they
        are too long to merge at once."""
        if len(noted) == 1:
            return noted[0]
        request = _merge_message(noted, meeting)
        if len(noted) > 2 and _estimate_tokens(request) > self.max_input_tokens:
            return self._merged_in_halves(noted, meeting, usage)
        try:
            return self._ask(_MERGE_INSTRUCTIONS, request, usage)
        except _ContextTooLongError:
            if len(noted) == 2:
                raise SynthesisError(
                    f"{self._service.shown_url}: the model's context cannot hold the notes of two "
                    "parts of the meeting to merge them"
                ) from None
            return self._merged_in_halves(noted, meeting, usage)

    def _merged_in_halves(
        self, noted: list[_NotesReply], meeting: MeetingContext, usage: _Usage
    ) -> _NotesReply:
        half = len(noted) // 2
        return self._merged(
            [
                self._merged(noted[:half], meeting, usage),
                self._merged(noted[half:], meeting, usage),
            ],
            meeting,
            usage,
        )

    def _ask(self, instructions: str, request: str, usage: _Usage) -> _NotesReply:
        """The model's notes for one request, asking once more when the reply is not valid."""
        messages = [
            {"role": "system", "content": instructions},
            {"role": "user", "content": request},
        ]
        content = self._chat(messages, usage)
        try:
            return _parse(content)
        except _InvalidReplyError as exc:
            first_error = exc
        messages += [
            {"role": "assistant", "content": content},
            {"role": "user", "content": _REPAIR_REQUEST.format(error=first_error)},
        ]
        try:
            return _parse(self._chat(messages, usage))
        except _InvalidReplyError as exc:
            raise SynthesisError(
                f"{self._service.shown_url}: {self.model} twice gave a reply that is not notes "
                f"({exc})"
            ) from None

    def _chat(self, messages: list[dict[str, str]], usage: _Usage) -> str:
        while True:
            mode = self._mode
            try:
                completion = self._post(self._request_body(messages, mode), mode)
            except _FormatRefusedError:
                with self._mode_lock:
                    # Another thread may have stepped down already: step down once per mode.
                    if self._mode is mode:
                        self._mode = _FALLBACK[mode]
                continue
            usage.add(completion.usage)
            return completion.choices[0].message.content or ""

    def _request_body(self, messages: list[dict[str, str]], mode: _OutputMode) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": _MAX_REPLY_TOKENS,
        }
        if mode is _OutputMode.JSON_SCHEMA:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": _JSON_SCHEMA_NAME, "strict": True, "schema": _NOTES_SCHEMA},
            }
        elif mode is _OutputMode.JSON_OBJECT:
            # OpenAI's form has no schema; llama.cpp's server constrains the reply with one.
            body["response_format"] = {"type": "json_object", "schema": _NOTES_SCHEMA}
        return body

    def _post(self, body: dict[str, Any], mode: _OutputMode) -> _ChatCompletion:
        response = self._service.request("POST", "/chat/completions", json=body)
        self._service.check(response, own_error=functools.partial(self._reply_error, mode))
        try:
            return _ChatCompletion.model_validate_json(response.content)
        except ValidationError:
            raise SynthesisError(
                f"{self._service.shown_url}: HTTP {response.status_code} without a chat completion"
            ) from None

    def _reply_error(
        self, mode: _OutputMode, response: httpx.Response, message: str
    ) -> Exception | None:
        """What an error reply says beyond the service being away or refusing us: the
        context too long, the output format refused, the model unknown; any other 4xx is
        this request's failure, for good."""
        status = response.status_code
        if status in (400, 413, 422, 500) and _CONTEXT_WORDING.search(message):
            return _ContextTooLongError()
        if (
            mode is not _OutputMode.TEXT
            and status in (400, 422, 500)
            and _FORMAT_WORDING.search(message)
        ):
            return _FormatRefusedError()
        if status == 404:
            return SynthesisConfigurationError(
                f"{self._service.shown_url}: HTTP 404: {message}: "
                "check SYNTHESIS_MODEL and OPENAI_BASE_URL"
            )
        if status < 500 and status != 429:
            return SynthesisError(f"{self._service.shown_url}: HTTP {status}: {message}")
        return None


def _estimate_tokens(text: str) -> int:
    return len(text) // _CHARS_PER_TOKEN + 1


def _lines(utterance: Utterance) -> list[_Line]:
    text = " ".join(utterance.text.split())
    if not text:
        return []
    speaker = " ".join((utterance.speaker or "").split())
    stamp = clock(utterance.start)
    label = (
        f"[S{utterance.segment_id} {stamp} {speaker}]"
        if speaker
        else f"[S{utterance.segment_id} {stamp}]"
    )
    return [_Line(label, text)]


def _split(lines: Sequence[_Line], budget: int) -> list[list[_Line]]:
    """Consecutive lines in parts of at most `budget` estimated tokens; a line longer than
    that alone is cut into pieces under the same label."""
    parts: list[list[_Line]] = []
    current: list[_Line] = []
    used = 0
    for line in lines:
        for piece in _pieces(line, budget):
            if current and used + piece.tokens > budget:
                parts.append(current)
                current, used = [], 0
            current.append(piece)
            used += piece.tokens
    if current:
        parts.append(current)
    return parts


def _pieces(line: _Line, budget: int) -> list[_Line]:
    if line.tokens <= budget:
        return [line]
    width = max((budget - _estimate_tokens(line.label)) * _CHARS_PER_TOKEN, 1)
    return [_Line(line.label, line.text[i : i + width]) for i in range(0, len(line.text), width)]


def _meeting_header(meeting: MeetingContext) -> list[str]:
    header = []
    if meeting.title:
        header.append(f"Meeting: {meeting.title}")
    if meeting.started_at is not None:
        header.append(f"Date: {meeting.started_at.strftime('%A %Y-%m-%d')}")
    if meeting.attendees:
        names = [
            f"{attendee.name} (organizer)" if attendee.is_organizer else attendee.name
            for attendee in meeting.attendees
        ]
        header.append(f"Attendees: {', '.join(names)}")
    if meeting.language:
        header.append(f"Language: {meeting.language} (write the notes in it)")
    return header


def _transcript_message(part: list[_Line], meeting: MeetingContext) -> str:
    return "\n".join([*_meeting_header(meeting), "Transcript:", *(str(line) for line in part)])


def _merge_message(noted: list[_NotesReply], meeting: MeetingContext) -> str:
    parts = [
        f"Notes of part {number} of {len(noted)}:\n{notes.model_dump_json()}"
        for number, notes in enumerate(noted, start=1)
    ]
    return "\n\n".join(["\n".join(_meeting_header(meeting)), *parts])


def _parse(content: str) -> _NotesReply:
    """The notes in a reply: the first JSON object in it that is notes, in whatever else the
    model wrote around it (code fences, a preamble with braces of its own)."""
    # Not strict: models write line breaks and tabs inside strings as they are, which JSON
    # forbids but which mean exactly what they look like.
    decoder = json.JSONDecoder(strict=False)
    problems: list[str] = []
    start = content.find("{")
    while start >= 0:
        try:
            value, _ = decoder.raw_decode(content, start)
            return _NotesReply.model_validate(value)
        except json.JSONDecodeError as exc:
            problems.append(f"invalid JSON: {exc.msg} at character {exc.pos}")
        except ValidationError as exc:
            problems.append(_validation_summary(exc))
        start = content.find("{", start + 1)
    # The first problem is the one the model can act on: later braces are inside it.
    raise _InvalidReplyError(problems[0] if problems else "no JSON object in it")


def _validation_summary(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'the object'}: {problem['msg']}"
        for problem in error.errors()[:3]
    ]
    return "; ".join(problems)


def _evidence(reply: _EvidenceReply | None) -> Evidence | None:
    if reply is None:
        return None
    return Evidence(segment_ids=tuple(reply.segment_ids), quote=reply.quote)


def _notes(reply: _NotesReply, *, model: str, usage: _Usage, seconds: float) -> Notes:
    return Notes(
        summary=reply.summary.strip(),
        key_decisions=[
            NoteItem(item.text.strip(), _evidence(item.evidence)) for item in reply.decisions
        ],
        action_items=[
            ActionItem(
                text=item.text.strip(),
                owner=(item.owner or "").strip() or None,
                due=(item.due or "").strip() or None,
                evidence=_evidence(item.evidence),
            )
            for item in reply.action_items
        ],
        open_questions=[
            NoteItem(item.text.strip(), _evidence(item.evidence)) for item in reply.open_questions
        ],
        key_topics=list(dict.fromkeys(topic.strip() for topic in reply.topics if topic.strip())),
        provider=OpenAISynthesizer.name,
        model=model,
        prompt_tokens=usage.prompt_tokens if usage.reported else None,
        completion_tokens=usage.completion_tokens if usage.reported else None,
        seconds=seconds,
    )
