"""What the HTTP transcription providers share: one configured client, and how a failed
exchange becomes one of our errors (away for now, refuses us, or the recording's fault)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from integrations.http import error_message, retry_after
from integrations.transcription.base import (
    TranscriptionRefusedError,
    TranscriptionUnavailableError,
)


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
        message = error_message(response, api_key=self._api_key)
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
