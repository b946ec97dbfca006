"""Real worker processes on a real Redis and PostgreSQL, for the task tests.

Workers are started the way operators start them (`celery worker` on `pipeline.app`),
as process groups, so a test can kill -9 one mid-task. Their logs are kept and printed
when a test times out waiting for them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from celery import Celery
from sqlalchemy import Engine

import celeryconfig
from repositories.database import UnitOfWork, create_session_factory
from repositories.models import Conversation, ConversationStatus

# The Redis `make test` starts; a missing server fails the run, never skips it.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
READY_TIMEOUT_S = 60.0
MINUTES = [sys.executable, "-c", "from pipeline.cli import main; main()"]

# Short leases, retries and a fast sweep, so recovery happens within a test's patience.
WORKER_SETTINGS = {
    "LEASE_SECONDS": "2",
    "REQUEUE_AFTER_SECONDS": "3",
    "RECOVERY_INTERVAL_SECONDS": "1",
    "RETRY_BACKOFF_SECONDS": "0.2",
    "TASK_TIME_LIMIT_SECONDS": "300",
    "HF_HUB_OFFLINE": "1",
}


def service_env(
    database_url: str, broker_url: str, audio_root: Path, **extra: str
) -> dict[str, str]:
    """The environment of a worker (or hook server) of these tests."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CELERY_") and key != "DATABASE_URL"
    }
    env.update(
        WORKER_SETTINGS,
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        AUDIO_ROOTS=str(audio_root),
    )
    env.update(extra)
    return env


def worker_is_ready(log: Path) -> bool:
    return b" ready." in log.read_bytes()


def answers(url: str) -> Callable[[Path], bool]:
    """Ready once `url` answers 200."""

    def ready(log: Path) -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    return ready


@dataclass
class Worker:
    """A service process of the tests: a worker, the hook server, Flower."""

    name: str
    command: Sequence[str]
    env: dict[str, str]
    log: Path
    ready: Callable[[Path], bool] = worker_is_ready
    process: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> Worker:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed whole, children too
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.ready(self.log):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not start:\n{self.output()}")
            time.sleep(0.2)
        return self

    def kill(self) -> None:
        """kill -9, the worker and its pool processes: no chance to hand anything back."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@dataclass
class Cluster:
    """The workers of one test, and what they share: database, broker, state folder."""

    database_url: str
    engine: Engine
    broker_url: str
    audio_root: Path
    state: Path
    workers: list[Worker] = field(default_factory=list)

    @property
    def uow(self) -> UnitOfWork:
        return UnitOfWork(create_session_factory(self.engine))

    def env(self, **extra: str) -> dict[str, str]:
        return service_env(self.database_url, self.broker_url, self.audio_root, **extra)

    def worker(
        self,
        *,
        transcriber: str = "instant",
        synthesizer: str = "counting",
        queues: str = "transcription,synthesis,graph,follow_up,celery",
        beat: bool = False,
        **settings: str,
    ) -> Worker:
        name = f"w{len(self.workers) + 1}-{uuid.uuid4().hex[:6]}"
        command = [
            sys.executable,
            "-m",
            "tests.worker_main",
            "--transcriber",
            transcriber,
            "--synthesizer",
            synthesizer,
            "--state",
            str(self.state),
            "--",
            "--hostname",
            f"{name}@%h",
            "--queues",
            queues,
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--events",
            "--without-mingle",
            "--without-gossip",
        ]
        if beat:
            command += ["--beat", "--schedule", str(self.state / f"{name}-beat")]
        worker = Worker(name, command, self.env(**settings), self.state / f"{name}.log")
        self.workers.append(worker)
        return worker.start()

    def service(
        self, name: str, command: Sequence[str], ready: Callable[[Path], bool], **settings: str
    ) -> Worker:
        """Any other process of the deployment, started with the cluster's environment."""
        service = Worker(name, command, self.env(**settings), self.state / f"{name}.log", ready)
        self.workers.append(service)
        return service.start()

    def send(self, task: str, conversation_id: uuid.UUID, **options: Any) -> None:
        """Queue a task the way any producer does: by name, with the id as its argument."""
        client = Celery("tests", broker=self.broker_url)
        client.conf.update(task_routes=celeryconfig.task_routes, task_serializer="json")
        try:
            client.send_task(task, args=[str(conversation_id)], **options)
        finally:
            client.close()

    def enqueue(self, recording: Path, **settings: str) -> uuid.UUID:
        """Store and queue a conversation as operators do: `minutes enqueue`, its id printed."""
        done = subprocess.run(
            [*MINUTES, "enqueue", str(recording), "--title", "Release planning"],
            capture_output=True,
            text=True,
            env=self.env(**settings),
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"minutes enqueue exited {done.returncode}:\n{done.stderr}")
        return uuid.UUID(done.stdout.strip())

    def wait_for(
        self,
        conversation_id: uuid.UUID,
        *statuses: ConversationStatus,
        timeout: float = 60.0,
        until: Callable[[Conversation], bool] = lambda conversation: True,
    ) -> Conversation:
        deadline = time.monotonic() + timeout
        conversation = None
        while time.monotonic() < deadline:
            with self.uow as uow:
                conversation = uow.conversations.get_by_id(conversation_id)
            if conversation is not None and conversation.status in statuses and until(conversation):
                return conversation
            time.sleep(0.2)
        logs = "\n".join(f"--- {w.name}\n{w.output()}" for w in self.workers)
        state = conversation.status if conversation else "gone"
        pytest.fail(f"conversation {conversation_id} is {state}, not {statuses}\n{logs}")


def redis_client(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"the test Redis is not running at {url}: {error}")
    return client


@pytest.fixture
def broker_url() -> Iterator[str]:
    """The test broker, emptied before and after each test."""
    client = redis_client(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def cluster(
    committed_database: tuple[str, Engine], broker_url: str, tmp_path: Path
) -> Iterator[Cluster]:
    url, engine = committed_database
    audio_root = tmp_path / "audio"
    audio_root.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    cluster = Cluster(url, engine, broker_url, audio_root, state)
    yield cluster
    for worker in cluster.workers:
        worker.stop()
