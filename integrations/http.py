"""What every HTTP provider reads from a failed reply: the service's own words, and how long
it asks us to wait."""

from __future__ import annotations

import email.utils
import json
import math
from datetime import UTC, datetime

import httpx

_SHOWN_ERROR_CHARS = 300


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
