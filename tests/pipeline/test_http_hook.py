"""The HTTP upload hook as a platform meets it: `minutes hooks serve` in a subprocess, on a
real PostgreSQL and a real Redis; every test checks the rows and the queue, not only the
answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, delete, func, make_url, select
from sqlalchemy.orm import Session

from pipeline.config import Settings
from repositories.models import Conversation, Participant
from tests.audio import silence

MINUTES = [sys.executable, "-c", "from pipeline.cli import main; main()"]
# The Redis `make test` starts; a missing server fails the run, never skips it.
BROKER_URL = "redis://127.0.0.1:6379/14"
# Nothing listens here: a broker that is down. The password must never be shown.
DEAD_BROKER_PASSWORD = "broker-password-never-shown"
READY_TIMEOUT_S = 20.0
LIMIT = 1024 * 1024  # HOOK_MAX_BODY_BYTES's default
READ_TIMEOUT_S = 3  # HOOK_READ_TIMEOUT_SECONDS of the `server` fixture
UNFINISHED = {"pending", "transcribing", "synthesizing"}
SETTINGS = set(Settings.model_fields)  # their environment variables, lower-cased


def sign(body: bytes, secret: str, timestamp: str) -> str:
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def now() -> str:
    return str(int(time.time()))


@dataclass(frozen=True)
class Server:
    url: str
    secret: str | None
    log: Path
    token: str | None = None

    def upload(
        self,
        event: Mapping[str, Any] | bytes,
        *,
        signature: str | None = None,
        timestamp: str | None = None,
    ) -> httpx.Response:
        """POST an event stamped now (or `timestamp`), signed with the server's secret
        unless `signature` is given."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        timestamp = timestamp or now()
        if signature is None:
            signature = self.sign(body, timestamp)
        return httpx.post(
            f"{self.url}/hooks/upload",
            content=body,
            headers={
                "X-Minutes-Timestamp": timestamp,
                "X-Minutes-Signature": signature,
                "Content-Type": "application/json",
            },
            timeout=10,
        )

    def sign(self, body: bytes, timestamp: str) -> str:
        assert self.secret is not None, "this server has no secret to sign with"
        return sign(body, self.secret, timestamp)

    def get(self, path: str, *, token: str | None = None) -> httpx.Response:
        """GET with the server's API token as the bearer, or `token` in its place."""
        token = token or self.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=10)

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def audio_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AUDIO_ROOTS with a recording in it, and one beside it, outside the root."""
    base = tmp_path_factory.mktemp("hook")
    root = base / "audio"
    root.mkdir()
    for path in (root / "meeting.wav", base / "outside.wav"):
        silence(path, seconds=0.5)
    return root


@pytest.fixture(scope="module")
def broker() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(BROKER_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as error:
        pytest.fail(f"the test Redis is not running at {BROKER_URL}: {error}")
    yield client
    client.flushdb()
    client.close()


@contextmanager
def _running_server(
    database_url: str, audio_root: Path, log: Path, *, healthy: bool = True, **settings: str
) -> Iterator[str]:
    """`minutes hooks serve` on a free port, once /healthz answers 200 (503 if not
    `healthy`); stopped after."""
    # Only the settings given here: none of the developer's own (ALLOW_PRIVATE_SOURCES...).
    env = {key: value for key, value in os.environ.items() if key.lower() not in SETTINGS}
    env.update(DATABASE_URL=database_url, AUDIO_ROOTS=str(audio_root), HF_HUB_OFFLINE="1")
    env.update(settings)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # A file, not a pipe: nobody reads a pipe while the tests run, and a full one would
    # block the server.
    with log.open("wb") as output:
        process = subprocess.Popen(
            # -v: the hook's own log lines (refusals, queueing failures) are wanted here.
            [*MINUTES, "-v", "hooks", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        answer = "nothing"
        while answer != str(200 if healthy else 503):
            if process.poll() is not None:
                pytest.fail(f"the hook server exited ({process.returncode}):\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"/healthz answered {answer}:\n{log.read_text()}")
            time.sleep(0.1)
            with suppress(httpx.TransportError):  # not listening yet
                answer = str(httpx.get(f"{url}/healthz", timeout=5).status_code)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(
    committed_database: tuple[str, Engine],
    audio_root: Path,
    broker: redis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    secret, token = secrets.token_hex(32), secrets.token_urlsafe(32)
    log = tmp_path_factory.mktemp("server") / "hook.log"
    with _running_server(
        committed_database[0],
        audio_root,
        log,
        HOOK_SECRET=secret,
        API_TOKEN=token,
        CELERY_BROKER_URL=BROKER_URL,
        HOOK_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT_S),
    ) as url:
        yield Server(url, secret, log, token)


@pytest.fixture(scope="module")
def unconfigured_server(
    committed_database: tuple[str, Engine],
    audio_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """No HOOK_SECRET, no API_TOKEN and no broker (stages would run in-process)."""
    log = tmp_path_factory.mktemp("unconfigured") / "hook.log"
    with _running_server(committed_database[0], audio_root, log) as url:
        yield Server(url, None, log)


@pytest.fixture(scope="module")
def in_process_server(
    committed_database: tuple[str, Engine],
    audio_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """Signed uploads and no broker: the pipeline runs inside the server."""
    secret, token = secrets.token_hex(32), secrets.token_urlsafe(32)
    log = tmp_path_factory.mktemp("in-process") / "hook.log"
    with _running_server(
        committed_database[0], audio_root, log, HOOK_SECRET=secret, API_TOKEN=token
    ) as url:
        yield Server(url, secret, log, token)


@pytest.fixture(scope="module")
def brokerless_server(
    committed_database: tuple[str, Engine],
    audio_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """Signed uploads, but the broker it is configured with is down."""
    secret = secrets.token_hex(32)
    dead_broker = f"redis://:{DEAD_BROKER_PASSWORD}@127.0.0.1:{_free_port()}/0"
    log = tmp_path_factory.mktemp("brokerless") / "hook.log"
    with _running_server(
        committed_database[0],
        audio_root,
        log,
        healthy=False,
        HOOK_SECRET=secret,
        CELERY_BROKER_URL=dead_broker,
    ) as url:
        yield Server(url, secret, log)


class _DatabaseProxy:
    """A loopback TCP forwarder to the test PostgreSQL: the server's DATABASE_URL names its
    port, and closing it is the database going away (the shared server is never stopped)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and cut the open ones, as a stopped server does."""
        with suppress(OSError):  # closed already
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            for connection in self._open:
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def database_down(
    committed_database: tuple[str, Engine],
    audio_root: Path,
    broker: redis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, _DatabaseProxy]]:
    """A server whose database the test can take away (it starts with it there)."""
    url = make_url(committed_database[0])
    assert url.host is not None
    assert url.port is not None
    proxy = _DatabaseProxy((url.host, url.port))
    through_proxy = url.set(host="127.0.0.1", port=proxy.port)
    secret, token = secrets.token_hex(32), secrets.token_urlsafe(32)
    log = tmp_path_factory.mktemp("database-down") / "hook.log"
    try:
        with _running_server(
            through_proxy.render_as_string(hide_password=False),
            audio_root,
            log,
            HOOK_SECRET=secret,
            API_TOKEN=token,
            CELERY_BROKER_URL=BROKER_URL,
        ) as server_url:
            yield Server(server_url, secret, log, token), proxy
    finally:
        proxy.close()


@pytest.fixture(autouse=True)
def no_conversations(committed_database: tuple[str, Engine]) -> None:
    """Every test starts without conversations (participants go with them: ON DELETE CASCADE)."""
    with committed_database[1].begin() as connection:
        connection.execute(delete(Conversation))


@pytest.fixture
def queued(broker: redis.Redis) -> Callable[[], list[dict[str, Any]]]:
    """The messages put on the transcription queue since the test started.

    Nothing consumes the queue (no worker runs), so it only grows; the broker is not
    emptied between tests because the server's Celery remembers the queues it declared.
    """
    before = _queue_length(broker)

    def since() -> list[dict[str, Any]]:
        raw = broker.lrange("transcription", 0, -1)
        assert isinstance(raw, list)
        # LPUSH: the newest message first.
        return [json.loads(message) for message in raw[: len(raw) - before]]

    return since


def _queue_length(broker: redis.Redis) -> int:
    length = broker.llen("transcription")
    assert isinstance(length, int)
    return length


def conversations(engine: Engine) -> list[Conversation]:
    with Session(engine) as session:
        return list(session.scalars(select(Conversation)))


def participants(engine: Engine, conversation_id: uuid.UUID) -> list[tuple[str, str | None, bool]]:
    statement = (
        select(Participant.name, Participant.email, Participant.is_organizer)
        .where(Participant.conversation_id == conversation_id)
        .order_by(Participant.name)
    )
    with engine.connect() as connection:
        return [(row.name, row.email, row.is_organizer) for row in connection.execute(statement)]


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Conversation)) or 0


def error_of(response: httpx.Response, status_code: int) -> str:
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert isinstance(message, str)
    return message


def task_message(message: dict[str, Any]) -> tuple[str, list[Any]]:
    """The task name and positional arguments of a Celery message as Redis holds it."""
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return message["headers"]["task"], args


def event(audio_root: Path, **fields: Any) -> dict[str, Any]:
    return {"source_uri": str(audio_root / "meeting.wav"), **fields}


class TestUploadHookAccepts:
    def test_signed_upload_stores_a_pending_conversation_and_queues_it(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
    ) -> None:
        response = server.upload(
            event(
                audio_root,
                title="Weekly sync",
                platform="zoom",
                platform_meeting_id="884-221",
                idempotency_key="zoom-884-221-1",
                started_at="2026-11-23T09:00:00+00:00",
                participants=[
                    {"name": "Ada Lovelace", "email": "ada@example.com", "organizer": True},
                    {"name": "Alan Turing"},
                ],
            )
        )

        assert response.status_code == 202, response.text
        body = response.json()
        assert body == {"conversation_id": body["conversation_id"], "status": "pending"}
        conversation_id = uuid.UUID(body["conversation_id"])
        [row] = conversations(committed_database[1])
        assert row.id == conversation_id
        assert row.status == "pending"
        assert row.title == "Weekly sync"
        assert (row.platform, row.platform_meeting_id) == ("zoom", "884-221")
        assert row.idempotency_key == "zoom-884-221-1"
        assert row.source_uri == str(audio_root / "meeting.wav")
        assert row.lease_expires_at is not None  # the sweep sends it again if the message is lost
        assert participants(committed_database[1], conversation_id) == [
            ("Ada Lovelace", "ada@example.com", True),
            ("Alan Turing", None, False),
        ]
        [message] = queued()
        assert task_message(message) == ("pipeline.transcribe", [str(conversation_id)])

    def test_a_speaker_timeline_is_stored_and_names_participants(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
    ) -> None:
        timeline = [
            {"name": "Ada Lovelace", "start": 0.0, "end": 4.5},
            {"name": "Alan Turing", "email": "alan@example.com", "start": 4.5, "end": 9.0},
        ]

        response = server.upload(
            event(audio_root, participants=[{"name": "Ada Lovelace"}], speaker_timeline=timeline)
        )

        assert response.status_code == 202, response.text
        conversation_id = uuid.UUID(response.json()["conversation_id"])
        [row] = conversations(committed_database[1])
        assert row.speaker_timeline == [
            {"name": "Ada Lovelace", "email": None, "start": 0.0, "end": 4.5},
            {"name": "Alan Turing", "email": "alan@example.com", "start": 4.5, "end": 9.0},
        ]
        assert participants(committed_database[1], conversation_id) == [
            ("Ada Lovelace", None, False),
            ("Alan Turing", "alan@example.com", False),
        ]

    @pytest.mark.parametrize(
        "key",
        [
            {"idempotency_key": "upload-1"},
            {"platform": "teams", "platform_meeting_id": "meeting-7"},
        ],
        ids=["idempotency-key", "platform-meeting-id"],
    )
    def test_the_same_upload_twice_is_one_conversation_queued_once(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
        key: dict[str, str],
    ) -> None:
        first = server.upload(event(audio_root, title="First", **key))
        again = server.upload(event(audio_root, title="Sent again", **key))

        assert first.status_code == again.status_code == 202, again.text
        assert again.json() == first.json()
        [row] = conversations(committed_database[1])
        assert str(row.id) == first.json()["conversation_id"]
        assert row.title == "First"
        assert len(queued()) == 1


class TestUploadHookSignature:
    @pytest.mark.parametrize(
        ("signature", "says"),
        [
            ("sha256=" + "0" * 64, "does not match"),
            ("sha256=abc", "must be sha256="),
            ("sha1=" + "0" * 40, "must be sha256="),
            ("0" * 64, "must be sha256="),
            ("", "must be sha256="),
        ],
        ids=["wrong", "short", "other-algorithm", "no-prefix", "empty"],
    )
    def test_a_bad_signature_is_refused(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
        signature: str,
        says: str,
    ) -> None:
        response = server.upload(event(audio_root), signature=signature)

        assert says in error_of(response, 401)
        assert count(committed_database[1]) == 0
        assert queued() == []

    def test_a_missing_signature_is_refused(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
    ) -> None:
        response = httpx.post(
            f"{server.url}/hooks/upload",
            json=event(audio_root),
            headers={"X-Minutes-Timestamp": now()},
            timeout=10,
        )

        assert "X-Minutes-Signature is missing" in error_of(response, 401)
        assert count(committed_database[1]) == 0
        assert queued() == []

    def test_a_signature_replayed_onto_another_body_is_refused(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
    ) -> None:
        signed = json.dumps(event(audio_root, title="Signed")).encode()
        forged = json.dumps(event(audio_root, title="Forged")).encode()

        response = server.upload(forged, signature=server.sign(signed, now()))

        assert "does not match" in error_of(response, 401)
        assert count(committed_database[1]) == 0
        assert queued() == []

    def test_the_signature_is_checked_before_the_body_is_parsed(self, server: Server) -> None:
        # Unsigned garbage learns nothing about what a valid body looks like.
        response = server.upload(b"{not json", signature="sha256=" + "0" * 64)

        error_of(response, 401)
        assert "details" not in response.json()


class TestUploadHookReplay:
    @pytest.mark.parametrize("offset", [-360, 360, -86400], ids=["past", "future", "yesterday"])
    def test_a_signed_request_stamped_over_five_minutes_away_is_refused(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
        offset: int,
    ) -> None:
        # Correctly signed, timestamp included: what an eavesdropper would replay later.
        stale = str(int(time.time()) + offset)

        response = server.upload(event(audio_root), timestamp=stale)

        assert "more than 5 minutes" in error_of(response, 401)
        assert count(committed_database[1]) == 0
        assert queued() == []

    def test_a_replay_with_a_fresh_timestamp_does_not_match_its_signature(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
    ) -> None:
        body = json.dumps(event(audio_root)).encode()
        captured = str(int(time.time()) - 600)

        response = server.upload(body, signature=server.sign(body, captured), timestamp=now())

        assert "does not match" in error_of(response, 401)
        assert count(committed_database[1]) == 0
        assert queued() == []

    def test_a_signature_of_the_body_alone_is_refused(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
    ) -> None:
        assert server.secret is not None
        body = json.dumps(event(audio_root)).encode()
        digest = hmac.new(server.secret.encode(), body, hashlib.sha256).hexdigest()

        response = server.upload(body, signature=f"sha256={digest}")

        assert "does not match" in error_of(response, 401)
        assert count(committed_database[1]) == 0
        assert queued() == []

    @pytest.mark.parametrize(
        ("timestamp", "says"),
        [
            (None, "X-Minutes-Timestamp is missing"),
            ("", "must be unix seconds"),
            ("1e9", "must be unix seconds"),
            ("-5", "must be unix seconds"),
            ("2026-11-26T12:00:00Z", "must be unix seconds"),
        ],
        ids=["missing", "empty", "float", "negative", "iso"],
    )
    def test_a_missing_or_malformed_timestamp_is_refused(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        timestamp: str | None,
        says: str,
    ) -> None:
        body = json.dumps(event(audio_root)).encode()
        headers = {"X-Minutes-Signature": server.sign(body, timestamp or "")}
        if timestamp is not None:
            headers["X-Minutes-Timestamp"] = timestamp

        response = httpx.post(f"{server.url}/hooks/upload", content=body, headers=headers)

        assert says in error_of(response, 401)
        assert count(committed_database[1]) == 0


class TestUploadHookValidation:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (b"{not json", "body"),
            (b'{"title": "No source"}', "body.source_uri"),
            (b'{"source_uri": "/x.wav", "recording_url": "http://x"}', "body.recording_url"),
            (b"[]", "body"),
            (b'{"source_uri": "/x.wav", "language": "http://x"}', "body.language"),
        ],
        ids=["bad-json", "missing-source-uri", "unknown-field", "not-an-object", "bad-language"],
    )
    def test_a_signed_body_that_is_not_an_upload_event_is_refused(
        self,
        server: Server,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
        body: bytes,
        field: str,
    ) -> None:
        response = server.upload(body)

        assert error_of(response, 422).startswith(f"invalid {field}")
        details = response.json()["details"]
        assert [detail["field"] for detail in details] == [field]
        assert all(set(detail) == {"field", "message"} for detail in details)
        assert "http://x" not in response.text  # the values sent are not echoed
        assert count(committed_database[1]) == 0
        assert queued() == []

    @pytest.mark.parametrize(
        ("timeline", "field"),
        [
            ({"name": "Ann"}, "body.speaker_timeline"),
            ([{"name": "Ann", "start": 3.0}], "body.speaker_timeline.0.end"),
            ([{"name": "Ann", "start": 5.0, "end": 2.0}], "body.speaker_timeline.0"),
            ([{"name": "", "start": 0, "end": 2}], "body.speaker_timeline.0.name"),
            ([{"name": "Ann", "email": "nope", "start": 0, "end": 2}], "body.speaker_timeline.0"),
        ],
        ids=["not-a-list", "no-end", "ends-before-it-starts", "no-name", "bad-email"],
    )
    def test_a_malformed_speaker_timeline_is_refused(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
        timeline: Any,
        field: str,
    ) -> None:
        response = server.upload(event(audio_root, speaker_timeline=timeline))

        assert error_of(response, 422).startswith(f"invalid {field}")
        assert count(committed_database[1]) == 0
        assert queued() == []

    @pytest.mark.parametrize("field", ["source_uri", "title"])
    def test_a_nul_character_is_refused_as_invalid(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
        field: str,
    ) -> None:
        sent = event(audio_root, title="Weekly sync")
        sent[field] = sent[field] + "\x00.wav"

        response = server.upload(sent)

        assert (
            error_of(response, 422)
            == f"invalid body.{field}: Value error, must not contain a NUL character"
        )
        assert count(committed_database[1]) == 0
        assert queued() == []
        assert "Traceback" not in server.log.read_text()


class TestUploadHookSizeLimit:
    def test_a_body_declared_too_large_is_refused(
        self,
        server: Server,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
    ) -> None:
        body = b" " * (LIMIT + 1)

        response = server.upload(body)

        assert str(LIMIT) in error_of(response, 413)
        assert count(committed_database[1]) == 0
        assert queued() == []

    def test_a_chunked_body_is_cut_off_once_it_grows_too_large(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
    ) -> None:
        valid = json.dumps(event(audio_root)).encode()
        padding = b" " * (64 * 1024)

        def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
            yield valid
            for _ in range(LIMIT // len(padding) * 2):
                yield padding

        timestamp = now()
        signature = server.sign(valid + padding * (LIMIT // len(padding) * 2), timestamp)
        response = httpx.post(
            f"{server.url}/hooks/upload",
            content=chunks(),
            headers={"X-Minutes-Timestamp": timestamp, "X-Minutes-Signature": signature},
            timeout=10,
        )

        assert response.request.headers["transfer-encoding"] == "chunked"
        assert str(LIMIT) in error_of(response, 413)
        assert count(committed_database[1]) == 0
        assert queued() == []

    def test_a_body_at_the_limit_is_read(self, server: Server, audio_root: Path) -> None:
        valid = json.dumps(event(audio_root)).encode()

        response = server.upload(valid + b" " * (LIMIT - len(valid)))

        assert response.status_code == 202, response.text


class TestUploadHookSources:
    @pytest.mark.parametrize(
        ("source_uri", "says"),
        [
            ("{root}/../outside.wav", "outside the allowed audio roots"),
            ("/etc/passwd", "outside the allowed audio roots"),
            ("{root}/missing.wav", "no such file"),
            ("http://127.0.0.1/x.wav", "not a public address"),
            ("http://169.254.169.254/latest/meta-data/", "not a public address"),
            ("ftp://example.com/x.wav", "unsupported source"),
        ],
        ids=["dotdot-escape", "outside-root", "missing", "loopback", "metadata", "ftp"],
    )
    def test_a_source_that_may_not_be_read_is_refused(
        self,
        server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
        source_uri: str,
        says: str,
    ) -> None:
        response = server.upload({"source_uri": source_uri.format(root=audio_root)})

        assert says in error_of(response, 422)
        assert "\n" not in response.json()["error"]
        assert count(committed_database[1]) == 0
        assert queued() == []


class TestUploadHookWithoutSecret:
    def test_every_upload_is_refused(
        self,
        unconfigured_server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
    ) -> None:
        body = json.dumps(event(audio_root)).encode()

        # Signed with the empty key, and with a guess: neither may get through.
        for key in ("", "secret"):
            timestamp = now()
            response = unconfigured_server.upload(
                body, signature=sign(body, key, timestamp), timestamp=timestamp
            )
            assert "HOOK_SECRET is not set" in error_of(response, 503)
        assert count(committed_database[1]) == 0

    def test_health_reports_the_in_process_broker(self, unconfigured_server: Server) -> None:
        response = unconfigured_server.get("/healthz")

        assert response.status_code == 200, response.text
        assert response.json() == {"database": "ok", "broker": "in-process"}


class TestUploadHookInProcess:
    def test_the_upload_is_answered_before_the_pipeline_runs_after_it(
        self, in_process_server: Server, audio_root: Path
    ) -> None:
        response = in_process_server.upload(event(audio_root))
        answered_at = datetime.now(UTC)

        assert response.status_code == 202, response.text
        path = f"/conversations/{response.json()['conversation_id']}"
        deadline = time.monotonic() + 30
        while (status := in_process_server.get(path).json())["status"] in UNFINISHED:
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        # Silence: the pipeline ends in "no speech", after the uploader had its answer.
        assert status["status"] == "failed", status
        assert "no speech" in status["error_message"]
        assert datetime.fromisoformat(status["failed_at"]) > answered_at


class TestUploadHookBrokerDown:
    def test_an_upload_is_stored_and_left_to_the_recovery_sweep(
        self,
        brokerless_server: Server,
        audio_root: Path,
        committed_database: tuple[str, Engine],
    ) -> None:
        server = brokerless_server

        response = server.upload(event(audio_root))

        assert response.status_code == 202, response.text
        [row] = conversations(committed_database[1])
        assert str(row.id) == response.json()["conversation_id"]
        assert row.status == "pending"
        assert row.lease_expires_at is not None
        assert f"could not queue conversation_id={row.id}" in server.log.read_text()

    def test_health_names_the_broker_and_not_its_url(self, brokerless_server: Server) -> None:
        server = brokerless_server

        response = server.get("/healthz")

        assert error_of(response, 503) == "unavailable: broker"
        assert response.json() == {
            "error": "unavailable: broker",
            "database": "ok",
            "broker": "unavailable",
        }
        for shown in (response.text, server.log.read_text()):
            assert DEAD_BROKER_PASSWORD not in shown
            assert "redis://" not in shown


class TestUploadHookDatabaseDown:
    def test_upload_read_and_health_answer_503_with_retry_after(
        self,
        database_down: tuple[Server, _DatabaseProxy],
        audio_root: Path,
        committed_database: tuple[str, Engine],
        queued: Callable[[], list[dict[str, Any]]],
    ) -> None:
        server, proxy = database_down
        proxy.close()  # the server holds a pooled connection: it dies too

        upload = server.upload(event(audio_root, idempotency_key="while-down"))
        read = server.get(f"/conversations/{uuid.uuid4()}")
        health = server.get("/healthz")

        for response in (upload, read):
            assert "database is unavailable" in error_of(response, 503)
            assert response.headers["Retry-After"] == "30"
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        assert count(committed_database[1]) == 0
        assert queued() == []
        log = server.log.read_text()
        assert "Traceback" not in log
        assert log.count("refused=database-unavailable") == 2


def _raw_upload(server: Server, *, declared_length: int) -> tuple[socket.socket, bytes]:
    """A connection to the server and the head of an upload (its headers well formed,
    so the body is what it waits for), with the first bytes of a body that never ends."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    timestamp = now()
    head = (
        f"POST /hooks/upload HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {declared_length}\r\n"
        f"X-Minutes-Timestamp: {timestamp}\r\n"
        f"X-Minutes-Signature: {server.sign(b'', timestamp)}\r\n\r\n"
    )
    return connection, head.encode() + b'{"source_uri": '


def _lines_after(server: Server, seen: int, marker: str, times: int = 1) -> list[str]:
    """The log lines after the first `seen`, once `times` of them contain `marker` (the
    log is written by another process)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        lines = server.log_lines()[seen:]
        if sum(marker in line for line in lines) >= times:
            return lines
        assert time.monotonic() < deadline, f"no {marker!r} x{times} in:\n" + "\n".join(lines)
        time.sleep(0.05)


def _read_until_closed(connection: socket.socket, trickle: bytes = b"") -> bytes:
    """What the server answers until it closes the connection, sending `trickle` every
    half second meanwhile: a client that keeps trickling must still be cut off (bounded:
    the server's deadline is READ_TIMEOUT_S, far below 60 tries)."""
    answer = b""
    connection.settimeout(0.5)
    for _ in range(60):
        try:
            received = connection.recv(65536)
        except TimeoutError:
            if trickle:
                with suppress(OSError):
                    connection.sendall(trickle)
            continue
        except ConnectionResetError:
            # Bytes trickled after the server's close() make it answer with a reset.
            return answer
        if not received:
            return answer  # closed by the server
        answer += received
    pytest.fail(f"the connection was still open; answer so far: {answer!r}")


class TestUploadHookBrokenClients:
    CLIENTS = 50

    def test_clients_gone_mid_body_are_one_line_each_and_no_traceback(
        self, server: Server, committed_database: tuple[str, Engine]
    ) -> None:
        seen = len(server.log_lines())

        for _ in range(self.CLIENTS):
            connection, partial = _raw_upload(server, declared_length=1000)
            with connection:
                connection.sendall(partial)
        _lines_after(server, seen, "refused=client-disconnected", times=self.CLIENTS)
        # One request after them: anything more they were going to log is there by its line.
        server.get("/healthz")

        lines = _lines_after(server, seen, "path=/healthz")
        assert len(lines) == self.CLIENTS + 1, "\n".join(lines)
        assert sum("refused=client-disconnected" in line for line in lines) == self.CLIENTS
        assert "Traceback" not in server.log.read_text()
        assert count(committed_database[1]) == 0

    def test_a_body_stalled_past_the_deadline_gets_408_and_a_closed_connection(
        self, server: Server, committed_database: tuple[str, Engine]
    ) -> None:
        seen = len(server.log_lines())
        connection, partial = _raw_upload(server, declared_length=1000)
        with connection:
            connection.sendall(partial)
            # It stops sending (no trickle: bytes sent after the server's close() would
            # make it reset the connection, and the 408 could be lost before it is read).
            answer = _read_until_closed(connection)

        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer
        assert b"connection: close" in head.lower()
        assert json.loads(body) == {
            "error": f"the body was not received within {READ_TIMEOUT_S} seconds"
        }
        lines = _lines_after(server, seen, "refused=body-timeout")
        assert len(lines) == 1, "\n".join(lines)
        assert "status=408" in lines[0]
        assert "Traceback" not in server.log.read_text()
        assert count(committed_database[1]) == 0

    def test_a_head_trickling_past_the_deadline_closes_the_connection(
        self, server: Server, committed_database: tuple[str, Engine]
    ) -> None:
        # The app never sees this request (its head never ends): the server must cut it off.
        seen = len(server.log_lines())
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(b"POST /hooks/upload HTTP/1.1\r\nHost: x\r\nX-Padding: ")
            answer = _read_until_closed(connection, trickle=b"a")

        assert answer == b""
        lines = _lines_after(server, seen, "refused=head-timeout")
        assert len(lines) == 1, "\n".join(lines)
        assert "Traceback" not in server.log.read_text()
        assert count(committed_database[1]) == 0


class TestReadApiToken:
    @pytest.mark.parametrize(
        "authorization",
        [None, "Bearer wrong-token", "Basic bWludXRlczptaW51dGVz", "Bearer", "{token}"],
        ids=["none", "wrong", "basic", "empty-bearer", "token-without-scheme"],
    )
    def test_a_read_without_the_token_is_refused(
        self, server: Server, audio_root: Path, authorization: str | None
    ) -> None:
        accepted = server.upload(event(audio_root, title="Private standup")).json()
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization.format(token=server.token)

        response = httpx.get(
            f"{server.url}/conversations/{accepted['conversation_id']}", headers=headers
        )

        error_of(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "Private standup" not in response.text

    def test_the_token_reads_the_status(self, server: Server, audio_root: Path) -> None:
        accepted = server.upload(event(audio_root)).json()

        response = server.get(f"/conversations/{accepted['conversation_id']}")

        assert response.status_code == 200, response.text
        assert response.json()["id"] == accepted["conversation_id"]

    @pytest.mark.parametrize("authorization", ["Bearer", "Bearer guess"])
    def test_without_api_token_every_read_is_refused(
        self, unconfigured_server: Server, authorization: str
    ) -> None:
        response = httpx.get(
            f"{unconfigured_server.url}/conversations/{uuid.uuid4()}",
            headers={"Authorization": authorization},
        )

        assert "API_TOKEN is not set" in error_of(response, 503)

    def test_health_needs_no_token(self, server: Server) -> None:
        response = httpx.get(f"{server.url}/healthz")

        assert response.status_code == 200, response.text


class TestUploadHookStatusAndHealth:
    def test_a_stored_conversation_has_its_status(self, server: Server, audio_root: Path) -> None:
        accepted = server.upload(event(audio_root, title="Standup")).json()

        response = server.get(f"/conversations/{accepted['conversation_id']}")

        assert response.status_code == 200, response.text
        status = response.json()
        assert status["id"] == accepted["conversation_id"]
        assert status["status"] == "pending"
        assert status["title"] == "Standup"

    def test_an_unknown_conversation_is_404(self, server: Server) -> None:
        unknown = uuid.uuid4()

        assert str(unknown) in error_of(server.get(f"/conversations/{unknown}"), 404)

    def test_a_malformed_id_is_422(self, server: Server) -> None:
        response = server.get("/conversations/not-an-id")

        assert error_of(response, 422).startswith("invalid path.conversation_id")
        assert [d["field"] for d in response.json()["details"]] == ["path.conversation_id"]

    def test_an_unknown_path_is_a_json_404(self, server: Server) -> None:
        error_of(server.get("/hooks/nothing"), 404)

    def test_health_checks_database_and_broker(self, server: Server) -> None:
        response = server.get("/healthz")

        assert response.status_code == 200, response.text
        assert response.json() == {"database": "ok", "broker": "ok"}

    def test_the_openapi_document_describes_the_upload(self, server: Server) -> None:
        document = server.get("/openapi.json").json()

        upload = document["paths"]["/hooks/upload"]["post"]
        assert upload["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/UploadEvent"
        }
        assert "source_uri" in document["components"]["schemas"]["UploadEvent"]["required"]
        assert "UploadParticipant" in document["components"]["schemas"]
        assert [(p["name"], p["in"], p["required"]) for p in upload["parameters"]] == [
            ("X-Minutes-Timestamp", "header", True),
            ("X-Minutes-Signature", "header", True),
        ]
        read = document["paths"]["/conversations/{conversation_id}"]["get"]
        assert read["security"] == [{"HTTPBearer": []}]
        assert server.get("/docs").status_code == 200
