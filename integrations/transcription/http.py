"""What the HTTP transcription providers share: one configured client, and how a failed
exchange becomes one of our errors (away for now, refuses us, or the recording's fault)."""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx

from integrations.transcription.base import (
    TranscriptionRefusedError,
    TranscriptionUnavailableError,
)

_SHOWN_ERROR_CHARS = 300


class ServiceClient:
    """An `httpx.Client` for one service (one per process: a connection pool), with the
    errors it raises naming the service by its URL without credentials, never the key."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        key_setting: str,
        url_setting: str,
        timeout_seconds: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL:
            raise TranscriptionRefusedError(f"{url_setting} is not a URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise TranscriptionRefusedError(f"{url_setting} must be an http(s) URL")
        self.shown_url = str(url.copy_with(username=None, password=None, query=None))
        self.key_setting = key_setting
        self.url_setting = url_setting
        self.timeout_seconds = timeout_seconds
        self._api_key = api_key or None
        self.client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {self._api_key}"} if self._api_key else {},
            timeout=timeout_seconds,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    @contextmanager
    def exchange(self) -> Iterator[None]:
        """Transport failures (timeout, connection refused or lost) as the service away."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise TranscriptionUnavailableError(
                f"{self.shown_url}: no answer within {self.timeout_seconds:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise TranscriptionUnavailableError(
                f"{self.shown_url}: request failed ({type(exc).__name__})"
            ) from exc

    def request(self, method: str, path: str, **options: object) -> httpx.Response:
        with self.exchange():
            return self.client.request(method, path, **options)  # type: ignore[arg-type]

    def check(
        self,
        response: httpx.Response,
        *,
        recording_fault: Callable[[httpx.Response, str], Exception | None] = lambda r, m: None,
    ) -> None:
        """Raises for an error reply: the recording's fault (what `recording_fault` makes of
        it), the service away (408, 429, 5xx), or refusing us (any other 4xx)."""
        status = response.status_code
        if status < 400:
            return
        if status in (401, 403):
            # Never the service's own words: some quote part of the key they refused.
            raise TranscriptionRefusedError(
                f"{self.shown_url} refused the request (HTTP {status}): "
                f"check {self.key_setting} and {self.url_setting}"
            )
        message = self.error_message(response)
        fault = recording_fault(response, message)
        if fault is not None:
            raise fault
        if status == 429:
            raise TranscriptionUnavailableError(
                f"{self.shown_url}: rate limited (HTTP 429): {message}",
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
        if status == 408 or status >= 500:
            raise TranscriptionUnavailableError(f"{self.shown_url}: HTTP {status}: {message}")
        raise TranscriptionRefusedError(f"{self.shown_url}: HTTP {status}: {message}")

    def error_message(self, response: httpx.Response) -> str:
        """The service's own words, short, without the key should it echo it."""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message: str = error["message"]  # OpenAI's form
        elif isinstance(payload, dict) and isinstance(payload.get("message"), str):
            message = payload["message"]  # Soniox's form
        elif isinstance(payload, dict) and isinstance(payload.get("detail"), str | list | dict):
            message = json.dumps(payload["detail"])  # FastAPI's form
        else:
            message = response.text
        message = " ".join(message.split())[:_SHOWN_ERROR_CHARS]
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message


def retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks to wait: a number, or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None
