"""Prometheus metrics: what the tasks and providers did, and what waits.

Recorded in the process that does the work, at no cost of its own in I/O: a task's
duration and failure from Celery's task signals, a transcript's audio seconds and
real-time factor as the transcriber hands it back, a synthesis's tokens as the notes
pass their last step. What waits (the graph outbox, the broker's queues) is not recorded
but measured when /metrics is scraped, by `BacklogCollector`.

Celery's prefork workers run tasks in child processes, each with its own memory. With
PROMETHEUS_MULTIPROC_DIR set (prometheus-client's multiprocess mode), every process writes
its samples to files of its own in that folder, and whoever serves /metrics on the same
machine adds them up. A worker removes the files of processes that are gone when it starts,
and a pool process leaving marks itself dead.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from celery import Task
from celery.signals import (
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    worker_init,
    worker_process_shutdown,
)
from kombu.transport.redis import PRIORITY_STEPS, Channel
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from integrations.synthesis.base import MeetingContext, Notes, Utterance
from integrations.synthesis.chain import Closeable
from integrations.transcription.base import Transcriber, Transcript
from pipeline.app import app as celery_app
from pipeline.config import get_settings
from pipeline.stages import TRANSIENT_ERRORS, StageOutcome
from repositories.database import UnitOfWork
from repositories.models import utc_now

log = logging.getLogger(__name__)

# A scrape must answer before Prometheus gives up on it (10 s by default), broker down or not.
_BROKER_TIMEOUT_S = 2.0

TASK_DURATION = Histogram(
    "minutes_task_duration_seconds",
    "Wall time of one run of a task (a stage, the graph sync, a sweep), by task name",
    ["task"],
    # From a sweep's milliseconds to a long recording's hours.
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
TASK_FAILURES = Counter(
    "minutes_task_failures",
    "Task runs that ended in an error, by task, error class (reason) and kind: transient "
    "(an outside system away, a lost connection: retried) or permanent",
    ["task", "reason", "kind"],
)
AUDIO_SECONDS = Histogram(
    "minutes_transcribed_audio_seconds",
    "Length of each recording (or part of one) transcribed, by the provider that wrote it",
    ["provider"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 900, 1800, 2700, 3600, 5400, 7200, 10800),
)
REAL_TIME_FACTOR = Histogram(
    "minutes_transcription_real_time_factor",
    "Seconds a transcription took per second of audio, by provider (under 1: faster than "
    "real time)",
    ["provider"],
    buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5),
)
LLM_TOKENS = Counter(
    "minutes_llm_tokens",
    "Tokens the notes providers read (direction=in) and wrote (out), by provider and model",
    ["provider", "model", "direction"],
)

# Start times of the tasks running in this process, by task id.
_started: dict[str, float] = {}


def multiprocess_dir() -> Path | None:
    return get_settings().prometheus_multiproc_dir


if (_folder := multiprocess_dir()) is not None:
    # prometheus-client writes there from a process's first sample, in whatever task or
    # command takes it: a missing folder would fail that.
    _folder.mkdir(parents=True, exist_ok=True)


class MeasuredTranscriber:
    """`transcriber`, each of its transcripts counted: audio seconds and real-time factor.

    Options pass through as given, so a provider option added later needs nothing here.
    """

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber

    def transcribe(self, path: Path, **options: Any) -> Transcript:
        started = time.monotonic()
        transcript = self.transcriber.transcribe(path, **options)
        observe_transcript(transcript, seconds=time.monotonic() - started)
        return transcript

    def close(self) -> None:
        """Releases what the transcriber holds (a cloud provider's HTTP client), if anything."""
        if isinstance(self.transcriber, Closeable):
            self.transcriber.close()


def observe_transcript(transcript: Transcript, *, seconds: float) -> None:
    AUDIO_SECONDS.labels(transcript.provider).observe(transcript.duration)
    if transcript.duration > 0:
        REAL_TIME_FACTOR.labels(transcript.provider).observe(seconds / transcript.duration)


def count_tokens(notes: Notes, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
    """A notes step: counts the tokens the notes took (a provider that reports them), and
    hands the notes on unchanged."""
    model = notes.model or ""
    if notes.prompt_tokens:
        LLM_TOKENS.labels(notes.provider, model, "in").inc(notes.prompt_tokens)
    if notes.completion_tokens:
        LLM_TOKENS.labels(notes.provider, model, "out").inc(notes.completion_tokens)
    return notes


@contextmanager
def measured_stage(task: str) -> Iterator[None]:
    """A stage run in-process, with no broker (`minutes process`, the hook server without
    CELERY_BROKER_URL): timed, and its error counted, as the task of that name would be."""
    started = time.monotonic()
    try:
        yield
    except Exception as error:
        TASK_FAILURES.labels(task, type(error).__name__, failure_kind(error)).inc()
        raise
    finally:
        _duration_of(task).observe(time.monotonic() - started)


def failure_kind(error: BaseException) -> str:
    return "transient" if isinstance(error, TRANSIENT_ERRORS) else "permanent"


@functools.cache
def _duration_of(task: str) -> Histogram:
    # The labelled child, looked up once per task name: every task ends here.
    return TASK_DURATION.labels(task)


@task_prerun.connect
def _task_started(task_id: str, **kwargs: Any) -> None:
    _started[task_id] = time.monotonic()


@task_postrun.connect
def _task_ended(task_id: str, task: Task, retval: Any = None, **kwargs: Any) -> None:  # type: ignore[type-arg]
    started = _started.pop(task_id, None)
    if started is not None:
        _duration_of(task.name).observe(time.monotonic() - started)
    if retval == StageOutcome.FAILED.value:
        # The stage gave the conversation up without an error of its own: the worker was
        # lost (killed, out of memory) every time it took it.
        TASK_FAILURES.labels(task.name, "WorkerLostError", "permanent").inc()


@task_failure.connect
def _task_failed(sender: Task, exception: BaseException, **kwargs: Any) -> None:  # type: ignore[type-arg]
    TASK_FAILURES.labels(sender.name, type(exception).__name__, failure_kind(exception)).inc()


@task_retry.connect
def _task_retried(sender: Task, reason: Any, **kwargs: Any) -> None:  # type: ignore[type-arg]
    # `reason` is Celery's Retry; the error that caused it is its `exc` (none for a
    # retry the task asked for by itself).
    error = getattr(reason, "exc", None)
    if isinstance(error, BaseException):
        TASK_FAILURES.labels(sender.name, type(error).__name__, failure_kind(error)).inc()


@worker_init.connect
def _prepare_multiprocess_dir(**kwargs: Any) -> None:
    # In the worker's main process, before its pool starts.
    folder = multiprocess_dir()
    if folder is not None:
        remove_samples_of_dead_processes(folder)


def remove_samples_of_dead_processes(folder: Path) -> None:
    """What processes that are gone wrote goes (a worker's previous run: its counters start
    again from zero, as Prometheus expects of a restart); what live ones write stays
    (another worker on this machine)."""
    for file in folder.glob("*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdecimal() and not _alive(int(pid)):
            file.unlink(missing_ok=True)


@worker_process_shutdown.connect
def _mark_process_dead(pid: int, **kwargs: Any) -> None:
    # A pool process leaving: its live gauges go (counters and histograms stay counted).
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.mark_process_dead(pid, path=str(folder))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class BacklogCollector(Collector):
    """What waits, measured at each scrape: the graph outbox's pending events (one query on
    a partial index) and the messages in each queue of a Redis broker (LLEN, one round trip
    for all queues)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        *,
        broker_url: str | None,
        queues: Callable[[], Iterable[str]],
    ) -> None:
        self._unit_of_work = unit_of_work
        self._queues = queues
        self._redis = (
            redis.Redis.from_url(
                broker_url,
                socket_timeout=_BROKER_TIMEOUT_S,
                socket_connect_timeout=_BROKER_TIMEOUT_S,
            )
            if broker_url and broker_url.startswith(("redis://", "rediss://", "unix://"))
            else None
        )

    def describe(self) -> Iterable[Metric]:
        # Named without scraping: registering must not query the database.
        return []

    def collect(self) -> Iterable[Metric]:
        yield from self._outbox()
        if self._redis is not None:
            yield from self._queue_depths(self._redis)

    def _outbox(self) -> Iterable[Metric]:
        try:
            with self._unit_of_work() as uow:
                pending, oldest = uow.graph_outbox.backlog()
        except SQLAlchemyError as error:
            # The gauges are left out of this scrape; the error's class only (its text
            # may name the server).
            log.warning("metrics: outbox not measured error=%s", type(error).__name__)
            return
        yield GaugeMetricFamily(
            "minutes_graph_outbox_pending",
            "Graph events written and not yet pushed to Neo4j",
            value=pending,
        )
        yield GaugeMetricFamily(
            "minutes_graph_outbox_oldest_pending_seconds",
            "Age of the oldest graph event not yet pushed (0 when none waits)",
            value=_age(oldest),
        )

    def _queue_depths(self, client: redis.Redis) -> Iterable[Metric]:
        queues = sorted(set(self._queues()))
        pipeline = client.pipeline(transaction=False)
        for queue in queues:
            # A message sent with a priority waits in a list of its own beside the queue's.
            for priority in PRIORITY_STEPS:
                pipeline.llen(_priority_list(queue, priority))
        try:
            lengths: list[int] = pipeline.execute()
        except RedisError as error:
            log.warning("metrics: queues not measured error=%s", type(error).__name__)
            return
        gauge = GaugeMetricFamily(
            "minutes_queue_depth", "Messages waiting in each broker queue", labels=["queue"]
        )
        steps = len(PRIORITY_STEPS)
        for index, queue in enumerate(queues):
            gauge.add_metric([queue], sum(lengths[index * steps : (index + 1) * steps]))
        yield gauge


def pipeline_queues() -> list[str]:
    """Every queue the tasks are routed to, as the Celery app is configured."""
    routes: dict[str, dict[str, str]] = celery_app.conf.task_routes or {}
    return [celery_app.conf.task_default_queue, *(route["queue"] for route in routes.values())]


def _priority_list(queue: str, priority: int) -> str:
    # As kombu's Redis transport names them (Channel._q_for_pri).
    return f"{queue}{Channel.sep}{priority}" if priority else queue


def _age(oldest: datetime | None) -> float:
    return 0.0 if oldest is None else max(0.0, (utc_now() - oldest).total_seconds())


def scrape_registry(backlog: BacklogCollector) -> CollectorRegistry:
    """What /metrics shows: every process's samples on this machine (multiprocess mode),
    or this process's own, and the backlog measured at the scrape."""
    scraped = CollectorRegistry()
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.MultiProcessCollector(scraped, path=str(folder))  # type: ignore[no-untyped-call]
    else:
        scraped.register(REGISTRY)
    scraped.register(backlog)
    return scraped
