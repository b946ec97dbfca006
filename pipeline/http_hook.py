"""The HTTP upload hook: `minutes hooks serve` (FastAPI on uvicorn).

`POST /hooks/upload` takes an `UploadEvent` signed with HOOK_SECRET
(`X-Minutes-Signature: sha256=<hex HMAC-SHA256 of the raw body>`); the body is read raw,
under a size limit, and its signature checked before any of it is parsed. It answers 202
with the conversation id: the same upload twice (idempotency key, or platform and meeting
id) gives the same conversation, queued once.

`GET /conversations/{id}` is not signed: the id is a random UUID that only the uploader
was told, so knowing it is the capability to read the conversation's status (the same
document as `minutes status --json`, which holds no transcript or notes).

`GET /healthz` checks the database and the broker. Every error is JSON `{"error": ...}`;
a 422 adds `details` (field and message, never the value sent).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from importlib.metadata import version
from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from integrations.errors import IntegrationError, TransientIntegrationError
from pipeline.app import app as celery_app
from pipeline.hooks import StoredUpload, UploadEvent, store_upload
from pipeline.presenters import conversation_summary
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from pipeline.tasks import start_pipeline
from repositories.models import Conversation

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Minutes-Signature"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_SIGNATURE_FORMAT = "sha256=<hex HMAC-SHA256 of the raw body, keyed with HOOK_SECRET>"
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
    limit = runtime.settings.hook_max_body_bytes

    @app.post(
        "/hooks/upload",
        status_code=202,
        response_model=None,
        summary="Hand minutes a recording or a transcript",
        responses={
            202: {"model": UploadAccepted, "description": "Stored and queued (or stored before)"},
            401: {"model": ErrorBody, "description": "Missing, malformed or wrong signature"},
            413: {"model": ErrorBody, "description": "Body over HOOK_MAX_BODY_BYTES"},
            422: {"model": ErrorBody, "description": "Not an UploadEvent, or a refused source"},
            503: {
                "model": ErrorBody,
                "description": "HOOK_SECRET is not set, or the source cannot be checked now",
            },
        },
        openapi_extra={
            # Read from the request, not declared as a parameter: FastAPI would answer a
            # missing one with 422, and the contract says 401.
            "parameters": [
                {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": True,
                    "description": _SIGNATURE_FORMAT,
                    "schema": {"type": "string"},
                }
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
            raise HTTPException(503, "HOOK_SECRET is not set: the upload hook is disabled")
        given = _parse_signature(request.headers.get(SIGNATURE_HEADER))
        body = await _read_body(request, limit)
        expected = hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            log.warning("upload refused reason=signature-mismatch")
            raise HTTPException(401, f"{SIGNATURE_HEADER} does not match the body")
        try:
            event = UploadEvent.model_validate_json(body)
        except ValidationError as error:
            raise RequestValidationError(
                [
                    {**e, "loc": ("body", *e["loc"])}
                    for e in error.errors(include_url=False, include_input=False)
                ]
            ) from None
        stored = await _store(runtime, event)
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
        responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    )
    async def conversation(conversation_id: uuid.UUID) -> dict[str, Any]:
        found = await run_in_threadpool(_load, runtime, conversation_id)
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

    return app


def _parse_signature(header: str | None) -> str:
    """The hex digest the header carries; 401 when it is missing or not `sha256=<hex>`."""
    if header is None:
        log.warning("upload refused reason=signature-missing")
        raise HTTPException(401, f"{SIGNATURE_HEADER} is missing")
    match = _SIGNATURE.fullmatch(header)
    if match is None:
        log.warning("upload refused reason=signature-malformed")
        raise HTTPException(401, f"{SIGNATURE_HEADER} must be {_SIGNATURE_FORMAT}")
    return match[1].lower()


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) as soon as it is known to exceed `limit` bytes.

    What is left unread is not buffered: uvicorn discards the rest of the request.
    """
    declared = request.headers.get("content-length", "")
    # A malformed Content-Length never reaches us (the HTTP parser rejects it); a body
    # without one (chunked) is measured while it is read.
    if declared.isdecimal() and int(declared) > limit:
        raise HTTPException(413, f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the body is larger than {limit} bytes")
    return bytes(body)


async def _store(runtime: Runtime, event: UploadEvent) -> StoredUpload:
    try:
        return await run_in_threadpool(store_upload, event, runtime=runtime)
    except TransientIntegrationError as error:
        # The source may well be readable later (a resolver outage): 503 asks the platform
        # to send the upload again, where a 422 would tell it to give up.
        log.warning("upload refused reason=source-unavailable")
        raise HTTPException(503, _one_line(error)) from None
    except IntegrationError as error:
        log.info("upload refused reason=source")
        raise HTTPException(422, _one_line(error)) from None


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


def _one_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


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
