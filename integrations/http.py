"""What the HTTP providers share: one configured client per service, and how a failed exchange
becomes one of the provider's errors (away for now, refuses us), with the service's own words
and how long it asks us to wait."""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

import httpx

_SHOWN_ERROR_CHARS = 300


class Unavailable(Protocol):
    """A provider's error for a service away for now, with how long it asks us to wait."""

    def __call__(self, message: str, *, retry_after: float | None = None) -> Exception: ...


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
        refused: Callable[[str], Exception],
        unavailable: Unavailable,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`refused` and `unavailable` make the provider's own errors: it refuses us (a
        setting to check), or it is away for now."""
        self._refused = refused
        self._unavailable = unavailable
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL:
            raise self._refused(f"{url_setting} is not a URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise self._refused(f"{url_setting} must be an http(s) URL")
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
            raise self._unavailable(
                f"{self.shown_url}: no answer within {self.timeout_seconds:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise self._unavailable(
                f"{self.shown_url}: request failed ({type(exc).__name__})"
            ) from exc

    def request(self, method: str, path: str, **options: object) -> httpx.Response:
        with self.exchange():
            return self.client.request(method, path, **options)  # type: ignore[arg-type]

    def check(
        self,
        response: httpx.Response,
        *,
        own_error: Callable[[httpx.Response, str], Exception | None] = lambda r, m: None,
    ) -> None:
        """Raises for an error reply: what the provider makes of it itself (`own_error`,
        given the reply and the service's words: the recording's fault, say), else the
        service away (408, 429, 5xx), or refusing us (any other 4xx)."""
        status = response.status_code
        if status < 400:
            return
        if status in (401, 403):
            # Never the service's own words: some quote part of the key they refused.
            raise self._refused(
                f"{self.shown_url} refused the request (HTTP {status}): "
                f"check {self.key_setting} and {self.url_setting}"
            )
        message = error_message(response, api_key=self._api_key)
        fault = own_error(response, message)
        if fault is not None:
            raise fault
        if status == 429:
            raise self._unavailable(
                f"{self.shown_url}: rate limited (HTTP 429): {message}",
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
        if status == 408 or status >= 500:
            raise self._unavailable(f"{self.shown_url}: HTTP {status}: {message}")
        raise self._refused(f"{self.shown_url}: HTTP {status}: {message}")


def error_message(response: httpx.Response, *, api_key: str | None) -> str:
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
        # FastAPI's form, as llama-cpp-python's server and others answer a bad request.
        message = json.dumps(payload["detail"])
    else:
        message = response.text
    message = " ".join(message.split())[:_SHOWN_ERROR_CHARS]
    if api_key:
        message = message.replace(api_key, "***")
    return message


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from either form the header takes (seconds, or a date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
