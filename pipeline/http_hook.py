"""The HTTP upload hook: `minutes hooks serve` (FastAPI on uvicorn).

`POST /hooks/upload` takes an `UploadEvent` signed with HOOK_SECRET
(`X-Minutes-Timestamp: <unix seconds>`, `X-Minutes-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<raw body>">`, as Stripe and Slack sign theirs): a timestamp more than five
minutes from the server's clock is refused, so a captured request cannot be replayed later.
The body is read raw, under a size limit and a deadline, and its signature checked before
any of it is parsed. It answers 202 with the conversation id: the same upload twice
(idempotency key, or platform and meeting id) gives the same conversation, queued once.

`GET /conversations/{id}` takes `Authorization: Bearer <API_TOKEN>`: conversation ids are
seen by more than the uploader (Flower's task list, logs), so an id is not a capability.
It returns the same document as `minutes status --json` (no transcript or notes).

`GET /healthz` checks the database and the broker. `GET /metrics` is Prometheus's text
format (pipeline/metrics.py), open like /healthz: it names tasks, providers and queues,
never a meeting. Every error is JSON `{"error": ...}`; a 422 adds `details` (field and
message, never the value sent); a database that does not answer is a 503 with
Retry-After. Every request is logged on one line (method, path,
status, and for a refused one the reason), never with a traceback for a client's fault.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
import uuid
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kombu.exceptions import OperationalError as BrokerError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from integrations.errors import IntegrationError, TransientIntegrationError
from pipeline.app import app as celery_app
from pipeline.hooks import StoredUpload, UploadEvent, store_upload
from pipeline.metrics import BacklogCollector, pipeline_queues, scrape_registry
from pipeline.presenters import conversation_summary, first_line
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from pipeline.tasks import start_pipeline
from repositories.models import Conversation

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Minutes-Signature"
TIMESTAMP_HEADER = "X-Minutes-Timestamp"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_SIGNATURE_FORMAT = (
    f'sha256=<hex HMAC-SHA256 of "<{TIMESTAMP_HEADER}>.<raw body>", keyed with HOOK_SECRET>'
)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# How far a signed timestamp may be from the server's clock (Stripe's and Slack's figure):
# wide enough for clock skew and a retry, too narrow to replay a captured request later.
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60
# The database did not answer (down, restarting, out of connections): worth asking again.
_DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)
_RETRY_AFTER_SECONDS = 30
# Module level: FastAPI resolves the dependency's annotations in this module's globals.
_BEARER = HTTPBearer(auto_error=False, description="API_TOKEN")  # missing: answered as JSON
# A health check must answer before the prober gives up on it, broker down or not.
_BROKER_TIMEOUT_SECONDS = 2

# The body is read raw (it must be verified before it is parsed), so FastAPI cannot derive
# its schema from a parameter; the document gets it from the model here instead.
_, _SCHEMAS = models_json_schema(
    [(UploadEvent, "validation")], ref_template="#/components/schemas/{model}"
)


class UploadAccepted(BaseModel):
    conversation_id: uuid.UUID
    status: str


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    error: str
    details: list[ErrorDetail] | None = None


class Health(BaseModel):
    database: str
    broker: str


class _HookApp(FastAPI):
    def openapi(self) -> dict[str, Any]:
        document = super().openapi()  # built on the first call, then the cached one
        document.setdefault("components", {}).setdefault("schemas", {}).update(_SCHEMAS["$defs"])
        return document


def create_app(runtime: Runtime) -> FastAPI:
    app = _HookApp(
        title="minutes upload hook",
        version=version("minutes"),
        exception_handlers={
            HTTPException: _http_error,
            RequestValidationError: _invalid_request,
            Exception: _internal_error,
        },
    )
    app.add_middleware(_RequestLog)
    limit = runtime.settings.hook_max_body_bytes
    read_timeout = runtime.settings.hook_read_timeout_seconds

    def require_token(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        token = runtime.settings.api_token
        # Like HOOK_SECRET: without a token nobody can be authenticated, so nothing is read.
        if token is None or not token.get_secret_value():
            raise _refused(
                request, 503, "API_TOKEN is not set: the read API is disabled", "no-api-token"
            )
        if credentials is None:
            raise _refused(
                request,
                401,
                "Authorization: Bearer <API_TOKEN> is missing",
                "token-missing",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(
            credentials.credentials.encode(), token.get_secret_value().encode()
        ):
            raise _refused(
                request, 401, "wrong API token", "token-mismatch", {"WWW-Authenticate": "Bearer"}
            )

    @app.post(
        "/hooks/upload",
        status_code=202,
        response_model=None,
        summary="Hand minutes a recording or a transcript",
        responses={
            202: {"model": UploadAccepted, "description": "Stored and queued (or stored before)"},
            401: {
                "model": ErrorBody,
                "description": "Missing, malformed or wrong signature, or a stale timestamp",
            },
            408: {"model": ErrorBody, "description": "Body not received in time"},
            413: {"model": ErrorBody, "description": "Body over HOOK_MAX_BODY_BYTES"},
            422: {"model": ErrorBody, "description": "Not an UploadEvent, or a refused source"},
            503: {
                "model": ErrorBody,
                "description": "HOOK_SECRET is not set, or the source or the database cannot "
                "be reached now (see Retry-After)",
            },
        },
        openapi_extra={
            # Read from the request, not declared as a parameter: FastAPI would answer a
            # missing one with 422, and the contract says 401.
            "parameters": [
                {
                    "name": TIMESTAMP_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "Unix seconds when the request was signed",
                    "schema": {"type": "string"},
                },
                {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": True,
                    "description": _SIGNATURE_FORMAT,
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/UploadEvent"}}
                },
            },
        },
    )
    async def upload(
        request: Request,
        background_tasks: BackgroundTasks,
    ) -> JSONResponse:
        secret = runtime.settings.hook_secret
        # Without a secret nobody can be authenticated, and an unauthenticated hook would let
        # anyone make this server read files under AUDIO_ROOTS or fetch URLs: refuse
        # everything. 503, not 401: the server's configuration is at fault, not the caller.
        if secret is None or not secret.get_secret_value():
            raise _refused(
                request, 503, "HOOK_SECRET is not set: the upload hook is disabled", "no-secret"
            )
        given = _parse_signature(request)
        timestamp = _parse_timestamp(request)
        body = await _read_body(request, limit, read_timeout)
        signed = timestamp.encode() + b"." + body
        expected = hmac.new(secret.get_secret_value().encode(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            raise _refused(
                request,
                401,
                f"{SIGNATURE_HEADER} does not match the timestamp and the body",
                "signature-mismatch",
            )
        try:
            event = UploadEvent.model_validate_json(body)
        except ValidationError as error:
            request.state.refusal = "invalid-body"
            raise RequestValidationError(
                [
                    {**e, "loc": ("body", *e["loc"])}
                    for e in error.errors(include_url=False, include_input=False)
                ]
            ) from None
        stored = await _store(request, runtime, event)
        if stored.created:
            if celery_app.conf.task_always_eager:
                # No broker: the stages run in this process, after the response, so the
                # uploader does not wait for a transcription.
                background_tasks.add_task(_run_in_process, runtime, stored.conversation_id)
            else:
                await run_in_threadpool(start_pipeline, stored.conversation_id, runtime)
        log.info(
            "upload accepted conversation_id=%s created=%s status=%s",
            stored.conversation_id,
            stored.created,
            stored.status.value,
        )
        accepted = UploadAccepted(
            conversation_id=stored.conversation_id, status=stored.status.value
        )
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202)

    @app.get(
        "/conversations/{conversation_id}",
        summary="The status of a conversation",
        responses={
            401: {"model": ErrorBody, "description": "Missing or wrong bearer token"},
            404: {"model": ErrorBody},
            422: {"model": ErrorBody},
            503: {"model": ErrorBody, "description": "API_TOKEN is not set, or no database"},
        },
        dependencies=[Depends(require_token)],
    )
    async def conversation(request: Request, conversation_id: uuid.UUID) -> dict[str, Any]:
        try:
            found = await run_in_threadpool(_load, runtime, conversation_id)
        except _DATABASE_UNAVAILABLE:
            raise _database_unavailable(request) from None
        if found is None:
            raise HTTPException(404, f"no conversation has id {conversation_id}")
        return conversation_summary(found)

    @app.get(
        "/healthz",
        response_model=Health,
        summary="Whether the database and the broker answer",
        responses={503: {"model": ErrorBody, "description": "A part is unavailable"}},
    )
    async def healthz() -> JSONResponse:
        health = {
            "database": await run_in_threadpool(_database_health, runtime),
            "broker": await run_in_threadpool(_broker_health),
        }
        failed = [part for part, state in health.items() if state == "unavailable"]
        if failed:
            return JSONResponse(
                {"error": f"unavailable: {', '.join(failed)}", **health}, status_code=503
            )
        return JSONResponse(health)

    _serve_metrics(app, runtime)
    return app


def create_metrics_app(runtime: Runtime) -> FastAPI:
    """`minutes metrics serve`: GET /metrics alone."""
    app = FastAPI(title="minutes metrics", openapi_url=None, docs_url=None, redoc_url=None)
    _serve_metrics(app, runtime)
    return app


def _serve_metrics(app: FastAPI, runtime: Runtime) -> None:
    broker_url = runtime.settings.celery_broker_url
    backlog = BacklogCollector(
        runtime.unit_of_work,
        broker_url=broker_url.get_secret_value() if broker_url else None,
        queues=pipeline_queues,
    )
    registry = scrape_registry(backlog)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        # In a thread: a scrape reads the database, the broker and the samples' files.
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


def _refused(
    request: Request,
    status_code: int,
    message: str,
    reason: str,
    headers: dict[str, str] | None = None,
) -> HTTPException:
    """The error for a refused request; its reason goes on the request's one log line."""
    request.state.refusal = reason
    return HTTPException(status_code, message, headers=headers)


def _database_unavailable(request: Request) -> HTTPException:
    return _refused(
        request,
        503,
        "the database is unavailable; try again later",
        "database-unavailable",
        {"Retry-After": str(_RETRY_AFTER_SECONDS)},
    )


def _parse_signature(request: Request) -> str:
    """The hex digest the header carries; 401 when it is missing or not `sha256=<hex>`."""
    header = request.headers.get(SIGNATURE_HEADER)
    if header is None:
        raise _refused(request, 401, f"{SIGNATURE_HEADER} is missing", "signature-missing")
    match = _SIGNATURE.fullmatch(header)
    if match is None:
        raise _refused(
            request, 401, f"{SIGNATURE_HEADER} must be {_SIGNATURE_FORMAT}", "signature-malformed"
        )
    return match[1].lower()


def _parse_timestamp(request: Request) -> str:
    """The signed timestamp as sent (it is part of what was signed); 401 when it is
    missing, not unix seconds, or more than TIMESTAMP_TOLERANCE_SECONDS from now."""
    header = request.headers.get(TIMESTAMP_HEADER)
    if header is None:
        raise _refused(request, 401, f"{TIMESTAMP_HEADER} is missing", "timestamp-missing")
    if _TIMESTAMP.fullmatch(header) is None:
        raise _refused(
            request, 401, f"{TIMESTAMP_HEADER} must be unix seconds", "timestamp-malformed"
        )
    if abs(time.time() - int(header)) > TIMESTAMP_TOLERANCE_SECONDS:
        raise _refused(
            request,
            401,
            f"{TIMESTAMP_HEADER} is more than {TIMESTAMP_TOLERANCE_SECONDS // 60} minutes "
            "from the server's clock",
            "timestamp-stale",
        )
    return header


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The raw body, refused (413) as soon as it is known to exceed `limit` bytes, or (408)
    when it is not all there `timeout` seconds after the request began.

    What is left unread is not buffered: uvicorn discards the rest of the request.
    """
    declared = request.headers.get("content-length", "")
    # A malformed Content-Length never reaches us (the HTTP parser rejects it); a body
    # without one (chunked) is measured while it is read.
    if declared.isdecimal() and int(declared) > limit:
        raise _refused(request, 413, f"the body is larger than {limit} bytes", "too-large")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise _refused(
                        request, 413, f"the body is larger than {limit} bytes", "too-large"
                    )
    except TimeoutError:
        raise _refused(
            request,
            408,
            f"the body was not received within {timeout:g} seconds",
            "body-timeout",
            # The rest of the body may still be on its way: this connection is done.
            {"Connection": "close"},
        ) from None
    except ClientDisconnect:
        # Nobody is left to answer; the status only labels the log line.
        raise _refused(
            request, 400, "the client disconnected before the body ended", "client-disconnected"
        ) from None
    return bytes(body)


async def _store(request: Request, runtime: Runtime, event: UploadEvent) -> StoredUpload:
    try:
        return await run_in_threadpool(store_upload, event, runtime=runtime)
    except TransientIntegrationError as error:
        # The source may well be readable later (a resolver outage): 503 asks the platform
        # to send the upload again, where a 422 would tell it to give up.
        raise _refused(request, 503, first_line(error), "source-unavailable") from None
    except IntegrationError as error:
        raise _refused(request, 422, first_line(error), "source") from None
    except _DATABASE_UNAVAILABLE:
        raise _database_unavailable(request) from None


def _run_in_process(runtime: Runtime, conversation_id: uuid.UUID) -> None:
    try:
        outcome = run_in_process(conversation_id, runtime)
    except Exception:
        # The stage has recorded the failure on the conversation, where GET
        # /conversations/{id} shows it; after the response, the log is the only other place
        # the error can go (raised, it would be reported as a failure of the request).
        log.exception("in-process pipeline failed conversation_id=%s", conversation_id)
        return
    log.info(
        "in-process pipeline ended conversation_id=%s outcome=%s", conversation_id, outcome.value
    )


def _load(runtime: Runtime, conversation_id: uuid.UUID) -> Conversation | None:
    with runtime.unit_of_work() as uow:
        return uow.conversations.get_by_id(conversation_id)


def _database_health(runtime: Runtime) -> str:
    try:
        with runtime.unit_of_work() as uow:
            uow.ping()
    except SQLAlchemyError as error:
        log.warning("health check failed part=database error=%s", type(error).__name__)
        return "unavailable"
    return "ok"


def _broker_health() -> str:
    if celery_app.conf.task_always_eager:
        return "in-process"
    try:
        with celery_app.connection_for_write(
            connect_timeout=_BROKER_TIMEOUT_SECONDS,
            transport_options={
                "socket_connect_timeout": _BROKER_TIMEOUT_SECONDS,
                "socket_timeout": _BROKER_TIMEOUT_SECONDS,
            },
        ) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, timeout=2 * _BROKER_TIMEOUT_SECONDS
            )
    except BrokerError as error:
        # The error's class only: its text may name the server and its credentials.
        log.warning("health check failed part=broker error=%s", type(error).__name__)
        return "unavailable"
    return "ok"


def _error(status_code: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status_code)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = _error(exc.status_code, str(exc.detail))
    if exc.headers:  # e.g. Allow on a 405
        response.headers.update(exc.headers)
    return response


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return _error(422, f"invalid {first['field']}: {first['message']}{more}", details=details)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises the exception after this response, so uvicorn still logs it.
    return _error(500, "internal error")


def protocol_with_head_deadline(timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head is not all there
    `timeout` seconds after the connection opened or its previous response ended.

    uvicorn has no such timeout (encode/uvicorn#157): its keep-alive timer stops at the
    first byte, so a client trickling a head holds the connection for ever, and the app
    (where the body deadline lives) is not called before the head is complete.
    """

    class HeadDeadlineProtocol(H11Protocol):
        _head_deadline: asyncio.TimerHandle | None = None
        _head_started = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_deadline()

        def data_received(self, data: bytes) -> None:
            self._head_started = True
            super().data_received(data)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm_head_deadline()  # a head arrived: the app has the request

        def on_response_complete(self) -> None:
            # Armed first: a pipelined request the call below starts disarms it again.
            self._arm_head_deadline()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_deadline()
            super().connection_lost(exc)

        def _arm_head_deadline(self) -> None:
            self._disarm_head_deadline()
            self._head_started = False
            self._head_deadline = self.loop.call_later(timeout, self._head_too_slow)

        def _disarm_head_deadline(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _head_too_slow(self) -> None:
            # A connection that sent nothing is only idle (a browser's preconnect): closed
            # without a line.
            if self._head_started:
                log.info("request refused=head-timeout")
            self.transport.close()

    return HeadDeadlineProtocol


class _RequestLog:
    """One log line per request, in place of uvicorn's access log: method, path, status,
    and for a refused request the reason its handler gave (request.state.refusal)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts: the app raised

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            refusal = scope.get("state", {}).get("refusal")
            log.log(
                logging.WARNING if status >= 500 else logging.INFO,
                "request method=%s path=%s status=%d%s",
                scope["method"],
                # Escaped: a client's %0A must not start a forged log line.
                scope["path"][:200].encode("unicode_escape").decode("ascii"),
                status,
                f" refused={refusal}" if refusal else "",
            )
