"""The OpenAI-compatible notes provider against recorded HTTP exchanges: what a real small
model on a local server cannot be made to show (rate limits, refused keys, servers without
JSON-schema output, context overflows, broken JSON, outages).

Replies and error bodies are as OpenAI, vLLM and llama.cpp's servers write them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from integrations.synthesis.base import (
    ActionItem,
    Attendee,
    Evidence,
    MeetingContext,
    NoteItem,
    SynthesisConfigurationError,
    SynthesisError,
    SynthesisUnavailableError,
    Utterance,
)
from integrations.synthesis.openai import OpenAISynthesizer

BASE_URL = "http://127.0.0.1:8089/v1"
CHAT_URL = f"{BASE_URL}/chat/completions"
MODEL = "gpt-4o-mini"
API_KEY = "sk-test-4f1c9a7e2b8d"

MEETING = MeetingContext(
    title="Launch planning",
    attendees=(
        Attendee("Maria Rossi", "maria@example.com", is_organizer=True),
        Attendee("Tom Berg", "tom@example.com"),
    ),
    started_at=datetime(2026, 3, 12, 9, 0, tzinfo=UTC),
)
UTTERANCES = [
    Utterance(0, "Let's settle the launch date.", "Maria Rossi", 0.0, 3.0),
    Utterance(1, "We go live on the fourth of May.", "Tom Berg", 3.0, 6.0),
    Utterance(2, "I'll send the press kit by Friday.", "Tom Berg", 313.4, 318.0),
    Utterance(3, "Who signs off the budget?", None, 3725.0, 3727.0),
]

# A long, even transcript: many parts at a small budget.
ROLLOUT = [
    Utterance(n, f"Point number {n} about the rollout plan and who owns it.", "Tom Berg")
    for n in range(40)
]

NOTES_REPLY: dict[str, Any] = {
    "summary": "The team set the launch date and split the launch work.",
    "decisions": [
        {
            "text": "Launch on 4 May",
            "evidence": {"segment_ids": [1], "quote": "We go live on the fourth of May."},
        }
    ],
    "action_items": [
        {
            "text": "Send the press kit",
            "owner": "Tom Berg",
            "due": "by Friday",
            "evidence": {"segment_ids": ["S2"], "quote": "I'll send the press kit"},
        }
    ],
    "open_questions": [
        {
            "text": "Who signs off the budget?",
            "evidence": {"segment_ids": [3], "quote": "Who signs off the budget?"},
        }
    ],
    "topics": ["launch date", "press kit", "launch date"],
}


def completion(
    content: str, *, prompt_tokens: int = 120, completion_tokens: int = 40
) -> httpx.Response:
    """A chat completion as OpenAI (and every compatible server) writes one."""
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-9x",
            "object": "chat.completion",
            "created": 1773306000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def openai_error(status: int, message: str, code: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        headers=headers,
        json={
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        },
    )


def sent(call: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(call.request.content)
    return body


def transcript_lines(body: dict[str, Any]) -> list[str]:
    return [line for line in body["messages"][1]["content"].splitlines() if line.startswith("[S")]


def is_merge(body: dict[str, Any]) -> bool:
    return "notes of part 1 of" in body["messages"][1]["content"].lower()


@pytest.fixture
def server() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def make_synthesizer() -> Iterator[Callable[..., OpenAISynthesizer]]:
    made: list[OpenAISynthesizer] = []

    def make(**overrides: Any) -> OpenAISynthesizer:
        values: dict[str, Any] = {"base_url": BASE_URL, "model": MODEL, "api_key": API_KEY}
        synthesizer = OpenAISynthesizer(**(values | overrides))
        made.append(synthesizer)
        return synthesizer

    yield make
    for synthesizer in made:
        synthesizer.close()


class TestNotes:
    def test_the_reply_becomes_notes_with_evidence_tokens_and_model(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        server.post(CHAT_URL).mock(return_value=completion(json.dumps(NOTES_REPLY)))

        notes = make_synthesizer().synthesize(UTTERANCES, MEETING)

        assert notes.summary == "The team set the launch date and split the launch work."
        assert notes.key_decisions == [
            NoteItem("Launch on 4 May", Evidence((1,), "We go live on the fourth of May."))
        ]
        assert notes.action_items == [
            ActionItem(
                "Send the press kit",
                owner="Tom Berg",
                due="by Friday",
                evidence=Evidence((2,), "I'll send the press kit"),
            )
        ]
        assert notes.open_questions == [
            NoteItem("Who signs off the budget?", Evidence((3,), "Who signs off the budget?"))
        ]
        assert notes.key_topics == ["launch date", "press kit"]
        assert (notes.provider, notes.model) == ("openai", MODEL)
        assert (notes.prompt_tokens, notes.completion_tokens) == (120, 40)
        assert notes.seconds is not None

    def test_the_transcript_goes_in_as_numbered_lines_with_time_and_speaker(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        route = server.post(CHAT_URL).mock(return_value=completion(json.dumps(NOTES_REPLY)))

        make_synthesizer().synthesize(UTTERANCES, MEETING)

        body = sent(route.calls.last)
        assert body["model"] == MODEL
        assert transcript_lines(body) == [
            "[S0 00:00:00 Maria Rossi] Let's settle the launch date.",
            "[S1 00:00:03 Tom Berg] We go live on the fourth of May.",
            "[S2 00:05:13 Tom Berg] I'll send the press kit by Friday.",
            "[S3 01:02:05] Who signs off the budget?",
        ]
        request = body["messages"][1]["content"]
        assert "Meeting: Launch planning" in request
        assert "Date: Thursday 2026-03-12" in request
        assert "Attendees: Maria Rossi (organizer), Tom Berg" in request
        assert "maria@example.com" not in request
        format_asked = body["response_format"]
        assert format_asked["type"] == "json_schema"
        assert format_asked["json_schema"]["strict"] is True
        assert route.calls.last.request.headers["Authorization"] == f"Bearer {API_KEY}"

    def test_a_local_server_is_sent_no_key(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        route = server.post(CHAT_URL).mock(return_value=completion(json.dumps(NOTES_REPLY)))

        make_synthesizer(api_key=None).synthesize(UTTERANCES, MEETING)

        assert "Authorization" not in route.calls.last.request.headers

    def test_an_empty_transcript_asks_nothing(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        route = server.post(CHAT_URL)

        notes = make_synthesizer().synthesize([], MEETING)

        assert notes.summary == ""
        assert notes.key_decisions == notes.open_questions == []
        assert not route.called

    def test_a_transcript_over_the_budget_is_noted_in_parts_then_merged(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        merged = NOTES_REPLY | {"summary": "The whole meeting."}

        def reply(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            if is_merge(body):
                return completion(json.dumps(merged), prompt_tokens=300, completion_tokens=50)
            first = transcript_lines(body)[0]
            part = {"summary": f"From {first[:4]}", "decisions": [], "action_items": []}
            return completion(json.dumps(part | {"open_questions": [], "topics": []}))

        route = server.post(CHAT_URL).mock(side_effect=reply)

        notes = make_synthesizer(max_input_tokens=400).synthesize(ROLLOUT, MEETING)

        bodies = [sent(call) for call in route.calls]
        parts, merges = bodies[:-1], bodies[-1:]
        assert len(parts) > 1
        assert [line for body in parts for line in transcript_lines(body)] == [
            f"[S{n} 00:00:00 Tom Berg] Point number {n} about the rollout plan and who owns it."
            for n in range(40)
        ]
        assert is_merge(merges[0])
        assert f"Notes of part {len(parts)} of {len(parts)}" in merges[0]["messages"][1]["content"]
        assert notes.summary == "The whole meeting."
        assert notes.prompt_tokens == 120 * len(parts) + 300
        assert notes.completion_tokens == 40 * len(parts) + 50

    def test_notes_of_many_parts_are_merged_in_halves_when_too_long_to_merge_at_once(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:

        def reply(request: httpx.Request) -> httpx.Response:
            return completion(json.dumps(NOTES_REPLY))

        route = server.post(CHAT_URL).mock(side_effect=reply)

        notes = make_synthesizer(max_input_tokens=200).synthesize(ROLLOUT, MEETING)

        bodies = [sent(call) for call in route.calls]
        merges = [body for body in bodies if is_merge(body)]
        parts = len(bodies) - len(merges)
        assert parts > 2
        # Each merge combines fewer notes than there are parts; the last one, two halves.
        assert len(merges) > 1
        assert "Notes of part 2 of 2" in merges[-1]["messages"][1]["content"]
        assert f"of {parts}:" not in "".join(m["messages"][1]["content"] for m in merges)
        assert notes.summary == NOTES_REPLY["summary"]


# How servers without JSON-schema output refuse it: llama-cpp-python 0.3's server (its
# request validation error, answered as a 500), and a FastAPI server's plain 422.
REFUSED_JSON_SCHEMA = [
    httpx.Response(
        500,
        json={
            "error": {
                "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
                "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\","
                " 'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n"
                '  File "llama_cpp/server/app.py", line 376, in create_chat_completion\n'
                "    POST /v1/chat/completions",
                "type": "internal_server_error",
                "param": None,
                "code": None,
            }
        },
    ),
    httpx.Response(
        422,
        json={
            "detail": [
                {
                    "type": "literal_error",
                    "loc": ["body", "response_format", "type"],
                    "msg": "Input should be 'text' or 'json_object'",
                    "input": "json_schema",
                }
            ]
        },
    ),
]


class TestStructuredOutputFallback:
    @pytest.mark.parametrize("refusal", REFUSED_JSON_SCHEMA, ids=["llama-cpp-python", "422"])
    def test_a_server_refusing_json_schema_is_asked_for_json_object_from_then_on(
        self,
        server: respx.MockRouter,
        make_synthesizer: Callable[..., OpenAISynthesizer],
        refusal: httpx.Response,
    ) -> None:
        def reply(request: httpx.Request) -> httpx.Response:
            if json.loads(request.content)["response_format"]["type"] == "json_schema":
                return refusal
            return completion(json.dumps(NOTES_REPLY))

        route = server.post(CHAT_URL).mock(side_effect=reply)
        synthesizer = make_synthesizer()

        first = synthesizer.synthesize(UTTERANCES, MEETING)
        second = synthesizer.synthesize(UTTERANCES, MEETING)

        formats = [sent(call)["response_format"] for call in route.calls]
        assert [asked["type"] for asked in formats] == ["json_schema", "json_object", "json_object"]
        # llama.cpp's server constrains json_object output with the schema given beside it.
        assert formats[1]["schema"] == formats[0]["json_schema"]["schema"]
        assert replace(first, seconds=None) == replace(second, seconds=None)
        assert first.key_decisions != []

    def test_a_server_refusing_both_is_asked_in_plain_text_and_the_json_found_in_it(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        refused = openai_error(
            400,
            "Invalid parameter: 'response_format' of type 'json_object' is not supported "
            "with this model.",
            "invalid_parameter",
        )

        def reply(request: httpx.Request) -> httpx.Response:
            if "response_format" in json.loads(request.content):
                return refused
            return completion(
                f"Here are the notes:\n```json\n{json.dumps(NOTES_REPLY)}\n```\nAnything else?"
            )

        route = server.post(CHAT_URL).mock(side_effect=reply)

        notes = make_synthesizer().synthesize(UTTERANCES, MEETING)

        assert len(route.calls) == 3
        assert notes.summary == NOTES_REPLY["summary"]
        assert [item.text for item in notes.action_items] == ["Send the press kit"]


class TestRepair:
    def test_a_line_break_written_as_is_inside_a_string_is_read_without_a_repair(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        # Small models write a summary's line break raw, which strict JSON refuses.
        reply = json.dumps(NOTES_REPLY).replace('"summary": "', '"summary": "Two parts.\n', 1)
        route = server.post(CHAT_URL).mock(return_value=completion(reply))

        notes = make_synthesizer().synthesize(UTTERANCES, MEETING)

        assert len(route.calls) == 1
        assert notes.summary.startswith("Two parts.\n")

    def test_truncated_json_gets_one_repair_round(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        truncated = json.dumps(NOTES_REPLY)[:90]
        route = server.post(CHAT_URL).mock(
            side_effect=[
                completion(truncated, prompt_tokens=100, completion_tokens=30),
                completion(json.dumps(NOTES_REPLY), prompt_tokens=150, completion_tokens=60),
            ]
        )

        notes = make_synthesizer().synthesize(UTTERANCES, MEETING)

        repair = sent(route.calls[1])["messages"]
        assert repair[2] == {"role": "assistant", "content": truncated}
        assert repair[3]["role"] == "user"
        assert "invalid JSON" in repair[3]["content"]
        assert notes.key_decisions[0].text == "Launch on 4 May"
        assert (notes.prompt_tokens, notes.completion_tokens) == (250, 90)

    def test_a_reply_of_the_wrong_shape_is_sent_back_with_what_is_wrong(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        route = server.post(CHAT_URL).mock(
            side_effect=[
                completion(json.dumps({"notes": "The team met."})),
                completion(json.dumps(NOTES_REPLY)),
            ]
        )

        make_synthesizer().synthesize(UTTERANCES, MEETING)

        assert "summary: Field required" in sent(route.calls[1])["messages"][3]["content"]

    def test_invalid_twice_is_a_synthesis_error(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        route = server.post(CHAT_URL).mock(return_value=completion('{"summary": "The te'))

        with pytest.raises(SynthesisError, match="twice gave a reply that is not notes"):
            make_synthesizer().synthesize(UTTERANCES, MEETING)
        assert len(route.calls) == 2


class TestContextLength:
    @pytest.mark.parametrize(
        "refusal",
        [
            # OpenAI and vLLM
            openai_error(
                400,
                "This model's maximum context length is 8192 tokens. However, your messages "
                "resulted in 9121 tokens. Please reduce the length of the messages.",
                "context_length_exceeded",
            ),
            # llama.cpp's own server
            httpx.Response(
                400,
                json={
                    "error": {
                        "code": 400,
                        "message": "the request exceeds the available context size, try "
                        "increasing it",
                        "type": "exceed_context_size_error",
                    }
                },
            ),
            # llama-cpp-python's server
            httpx.Response(
                400,
                json={
                    "error": {
                        "message": "Requested tokens (9121) exceed context window of 8192",
                        "type": "internal_server_error",
                    }
                },
            ),
        ],
        ids=["openai-vllm", "llama.cpp", "llama-cpp-python"],
    )
    def test_a_part_too_long_for_the_context_is_split_smaller(
        self,
        server: respx.MockRouter,
        make_synthesizer: Callable[..., OpenAISynthesizer],
        refusal: httpx.Response,
    ) -> None:
        # A server whose context holds about 300 tokens of transcript.
        def reply(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            if is_merge(body):
                return completion(json.dumps(NOTES_REPLY))
            if sum(len(line) for line in transcript_lines(body)) > 300 * 4:
                return refusal
            return completion(json.dumps(NOTES_REPLY | {"summary": "part"}))

        route = server.post(CHAT_URL).mock(side_effect=reply)
        utterances = [
            Utterance(n, f"Item {n}: " + "we walked through the rollout plan once more. " * 5)
            for n in range(12)
        ]

        notes = make_synthesizer().synthesize(utterances, MEETING)

        bodies = [sent(call) for call in route.calls]
        accepted = [
            body
            for body, call in zip(bodies, route.calls, strict=True)
            if call.response.status_code == httpx.codes.OK
        ]
        assert len(bodies) > len(accepted) > 2
        assert [line for body in accepted[:-1] for line in transcript_lines(body)] == (
            transcript_lines(bodies[0])
        )
        assert is_merge(accepted[-1])
        assert notes.summary == NOTES_REPLY["summary"]

    def test_a_single_line_too_long_for_any_part_is_a_synthesis_error(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        server.post(CHAT_URL).mock(
            return_value=openai_error(
                400, "This model's maximum context length is 128 tokens.", "context_length_exceeded"
            )
        )

        with pytest.raises(SynthesisError, match="context cannot hold"):
            make_synthesizer().synthesize(UTTERANCES[:1], MEETING)


class TestErrors:
    @pytest.mark.parametrize(
        ("retry_after", "seconds"),
        [("20", 20.0), ("0.5", 0.5), ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0)],
    )
    def test_rate_limited_is_transient_and_says_when_to_come_back(
        self,
        server: respx.MockRouter,
        make_synthesizer: Callable[..., OpenAISynthesizer],
        retry_after: str,
        seconds: float,
    ) -> None:
        server.post(CHAT_URL).mock(
            return_value=openai_error(
                429,
                "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, "
                "Used 3, Requested 1. Please try again in 20s.",
                "rate_limit_exceeded",
                **{"Retry-After": retry_after},
            )
        )

        with pytest.raises(SynthesisUnavailableError, match="rate limited") as raised:
            make_synthesizer().synthesize(UTTERANCES, MEETING)
        assert raised.value.retry_after == seconds

    @pytest.mark.parametrize("status", [401, 403])
    def test_a_refused_key_names_the_settings_never_the_key(
        self,
        server: respx.MockRouter,
        make_synthesizer: Callable[..., OpenAISynthesizer],
        status: int,
    ) -> None:
        server.post(CHAT_URL).mock(
            return_value=openai_error(
                status, f"Incorrect API key provided: {API_KEY}.", "invalid_api_key"
            )
        )

        with pytest.raises(SynthesisConfigurationError) as raised:
            make_synthesizer().synthesize(UTTERANCES, MEETING)
        message = str(raised.value)
        assert "OPENAI_API_KEY" in message
        assert "OPENAI_BASE_URL" in message
        assert API_KEY not in message
        assert API_KEY[-6:] not in message

    def test_credentials_in_the_base_url_are_not_shown(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        server.post("http://127.0.0.1:8089/v1/chat/completions").mock(
            return_value=httpx.Response(503, text="upstream unavailable")
        )
        synthesizer = make_synthesizer(base_url="http://proxyuser:hunter2@127.0.0.1:8089/v1")

        with pytest.raises(SynthesisUnavailableError) as raised:
            synthesizer.synthesize(UTTERANCES, MEETING)
        assert "hunter2" not in str(raised.value)
        assert "http://127.0.0.1:8089/v1" in str(raised.value)

    @pytest.mark.parametrize(
        "response",
        [
            openai_error(
                500, "The server had an error while processing your request.", "server_error"
            ),
            httpx.Response(502, text="<html><body>Bad Gateway</body></html>"),
            openai_error(
                503, "The engine is currently overloaded, please try again later", "overloaded"
            ),
        ],
        ids=["500", "502", "503"],
    )
    def test_server_errors_are_transient(
        self,
        server: respx.MockRouter,
        make_synthesizer: Callable[..., OpenAISynthesizer],
        response: httpx.Response,
    ) -> None:
        server.post(CHAT_URL).mock(return_value=response)

        with pytest.raises(
            SynthesisUnavailableError, match=f"HTTP {response.status_code}"
        ) as raised:
            make_synthesizer().synthesize(UTTERANCES, MEETING)
        assert raised.value.retry_after is None

    @pytest.mark.parametrize(
        "failure",
        [httpx.ReadTimeout("timed out"), httpx.ConnectError("Connection refused")],
        ids=["timeout", "refused"],
    )
    def test_no_answer_is_transient(
        self,
        server: respx.MockRouter,
        make_synthesizer: Callable[..., OpenAISynthesizer],
        failure: httpx.TransportError,
    ) -> None:
        server.post(CHAT_URL).mock(side_effect=failure)

        with pytest.raises(SynthesisUnavailableError):
            make_synthesizer(timeout_seconds=5).synthesize(UTTERANCES, MEETING)

    def test_an_unknown_model_names_the_setting(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        server.post(CHAT_URL).mock(
            return_value=openai_error(
                404,
                "The model `gpt-5-nano-x` does not exist or you do not have access to it.",
                "model_not_found",
            )
        )

        with pytest.raises(SynthesisConfigurationError, match="SYNTHESIS_MODEL"):
            make_synthesizer(model="gpt-5-nano-x").synthesize(UTTERANCES, MEETING)

    def test_other_refusals_are_permanent_with_the_servers_words(
        self, server: respx.MockRouter, make_synthesizer: Callable[..., OpenAISynthesizer]
    ) -> None:
        server.post(CHAT_URL).mock(
            return_value=openai_error(400, "'temperature' is not supported.", "unsupported_value")
        )

        with pytest.raises(SynthesisError, match="temperature' is not supported") as raised:
            make_synthesizer().synthesize(UTTERANCES, MEETING)
        assert not isinstance(raised.value, SynthesisConfigurationError)


class TestConfiguration:
    @pytest.mark.parametrize("model", [None, "", "  "])
    def test_openai_without_a_model_is_a_configuration_error(self, model: str | None) -> None:
        with pytest.raises(SynthesisConfigurationError, match="SYNTHESIS_MODEL is not set"):
            OpenAISynthesizer(base_url=BASE_URL, model=model)

    @pytest.mark.parametrize("base_url", ["127.0.0.1:8089/v1", "ftp://127.0.0.1/v1", "http://"])
    def test_a_base_url_that_is_not_http_is_a_configuration_error(self, base_url: str) -> None:
        with pytest.raises(SynthesisConfigurationError, match="OPENAI_BASE_URL"):
            OpenAISynthesizer(base_url=base_url, model=MODEL)
