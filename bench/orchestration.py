"""Time our pipeline's orchestration against a bare chain of three no-op Celery tasks.

    python bench/orchestration.py [--meetings 400] [--concurrency 2] [--repeats 5]

Both runs go through the same real worker (this script again, in `--worker` mode: the
production `pipeline.app` and its tasks, with transcription and synthesis providers that
answer at once) on the same Redis, so what separates them is what our pipeline adds to
Celery: its transactions on PostgreSQL, the state machine, leases, heartbeats and events.
The two runs alternate over `--repeats` rounds, each going first in every other round, and
the ratio is of the best round of each: a busy neighbour can only slow a round, never
speed it up, so each side's fastest round is the one nearest what its code costs, and
taking the best of both holds the baseline to the same standard as ours. The bare chain's
short rounds swung most from run to run (a few hundred milliseconds of a neighbour's
work is a large part of a 1.5 s round), hence 400 meetings a round and 5 rounds by
default. The medians of each side are printed too, as a check on the best.

The script makes everything it needs and removes it after: a migrated PostgreSQL database
of its own, a Redis database of its own (emptied before and after), the worker process.

Before the timed rounds the script runs a few meetings through the same stage functions in
its own process and prints the database round trips per meeting (counted there, so the
counting slows no timed round). `--profile DIR` has every pool process write, per task,
its time, CPU time and round trips to DIR (and with `--cprofile` a cProfile of the whole
process, which slows it about twice); the script prints the summary after the runs.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import redis
import redis.connection
from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
)
from pydantic import SecretStr
from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool

# Run as a plain script the repository's own modules (celeryconfig above all, which is not
# in an installed package) are not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import celeryconfig
from integrations.diarization.base import NamedTurn
from integrations.synthesis.base import (
    ActionItem,
    Evidence,
    MeetingContext,
    NoteItem,
    Notes,
    Utterance,
)
from integrations.transcription.base import TranscribedSegment, Transcript
from pipeline import stages
from pipeline.app import app
from pipeline.config import Settings
from pipeline.follow_up import FOLLOW_UP_BATCH, follow_up_completed
from pipeline.hooks import UploadEvent, UploadParticipant, store_upload
from pipeline.providers import synthesis_chain
from pipeline.runtime import Runtime
from pipeline.tasks import use_runtime
from repositories.models import Conversation, ConversationStatus
from scratch_database import scratch_database

# Tests use 13 and 14; a database number of our own, so a flush touches nothing else.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

# Meetings run through the stage functions in this process to count their round trips.
ROUND_TRIP_MEETINGS = 20
BARE_QUEUE = "bench"
PIPELINE_QUEUES = ("transcription", "synthesis", "graph", "celery")
BARE_DONE_KEY = "bench:bare:done"
PROFILE_ENV = "BENCH_PROFILE_DIR"
CPROFILE_ENV = "BENCH_CPROFILE"

WARM_UP = 20  # per run and pool process: connections, imports and caches are made here
POLL_S = 0.02  # completion is polled: at most this late, under 1% of a 400-meeting round
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0

TRANSCRIPT = Transcript(
    segments=(
        TranscribedSegment(0.0, 4.0, "We decided to ship the beta on Friday.", speaker="Ann Lee"),
        TranscribedSegment(
            4.0, 8.5, "Bob will write the release notes by Thursday.", speaker="Bob Stone"
        ),
        TranscribedSegment(8.5, 12.0, "Should we invite the design team?", speaker="Ann Lee"),
    ),
    language="en",
    duration=12.0,
    provider="bench",
)
NOTES = Notes(
    summary="The beta ships on Friday; Bob writes the release notes.",
    key_decisions=[NoteItem("Ship the beta on Friday.", Evidence((0,), "ship the beta on Friday"))],
    action_items=[
        ActionItem(
            text="Write the release notes",
            owner="Bob Stone",
            due="Thursday",
            evidence=Evidence((1,), "Bob will write the release notes"),
        )
    ],
    open_questions=[
        NoteItem("Should we invite the design team?", Evidence((2,), "invite the design team"))
    ],
    key_topics=["beta", "release notes"],
    provider="bench",
)


class InstantTranscriber:
    """A provider that answers at once, reporting its end as a real one does."""

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        timeline: Sequence[NamedTurn] = (),
        language: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        if on_progress is not None:
            on_progress(1.0)
        return TRANSCRIPT


class InstantSynthesizer:
    name = "instant"

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        return NOTES


# The baseline: three tasks on the same app and worker, each sending the next from its
# body as ours do (not celery.chain: a stage that finds nothing to do must not go on, so
# ours cannot be a chain), so both runs publish, deliver and acknowledge the same messages.


@cache
def _redis() -> redis.Redis:
    # One client per pool process, made after the fork.
    return redis.Redis.from_url(str(app.conf.broker_url))


@app.task(name="bench.noop_1")
def noop_1(index: int, **kwargs: Any) -> None:
    noop_2.apply_async((index,), queue=BARE_QUEUE)


@app.task(name="bench.noop_2")
def noop_2(index: int, **kwargs: Any) -> None:
    noop_3.apply_async((index,), queue=BARE_QUEUE)


@app.task(name="bench.noop_3")
def noop_3(index: int, **kwargs: Any) -> None:
    _redis().incr(BARE_DONE_KEY)


# --worker mode: the production worker on instant providers.


def run_worker(celery_args: Sequence[str]) -> None:
    runtime = Runtime(
        Settings(), transcriber=InstantTranscriber(), synthesizer=InstantSynthesizer()
    )
    use_runtime(runtime)
    profile_dir = os.environ.get(PROFILE_ENV)
    if profile_dir:
        _TaskProfile(Path(profile_dir), cprofile=bool(os.environ.get(CPROFILE_ENV))).connect()
    app.worker_main(["worker", *celery_args])


def count_database_round_trips(on_round_trip: Callable[[], None]) -> Callable[[], None]:
    """Calls `on_round_trip` on every exchange with PostgreSQL; returns the undo.

    psycopg drives each exchange as a generator that waits on the socket; one that finishes
    without waiting (setting autocommit, a rollback with no transaction open) is none. A
    statement outside a transaction, not in autocommit mode, is two: psycopg sends BEGIN
    and waits for its answer first, in the same generator.
    """
    wait = psycopg.Connection.wait

    def exchange(generator: Generator[Any, Any, Any], begins: bool) -> Generator[Any, Any, Any]:
        try:
            request = generator.send(None)
        except StopIteration as done:
            return done.value
        on_round_trip()
        if begins:
            on_round_trip()
        while True:
            reply = yield request
            try:
                request = generator.send(reply)
            except StopIteration as done:
                return done.value

    def counted(connection: Any, generator: Any, *args: Any, **kwargs: Any) -> Any:
        begins = (
            not connection.autocommit
            and connection.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        )
        return wait(connection, exchange(generator, begins), *args, **kwargs)

    psycopg.Connection.wait = counted  # type: ignore[method-assign,assignment]

    def undo() -> None:
        psycopg.Connection.wait = wait  # type: ignore[method-assign]

    return undo


@dataclass
class _TaskStats:
    count: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this thread's: what the task costs when the box is busy
    statements: int = 0
    checkouts: int = 0  # each one a pre-ping round trip (pool_pre_ping)
    commits: int = 0
    database_round_trips: int = 0
    redis_round_trips: int = 0


class _TaskProfile:
    """Per pool process: a cProfile of all of it, and per task name its time and SQL."""

    def __init__(self, directory: Path, *, cprofile: bool) -> None:
        self.directory = directory
        self.profiler = cProfile.Profile() if cprofile else None
        self.stats: dict[str, _TaskStats] = defaultdict(_TaskStats)
        self.current: _TaskStats | None = None
        self.started = 0.0
        self.started_cpu = 0.0

    def connect(self) -> None:
        worker_process_init.connect(self._start, weak=False)
        worker_process_shutdown.connect(self._dump, weak=False)
        task_prerun.connect(self._task_started, weak=False)
        task_postrun.connect(self._task_ended, weak=False)
        # On the class: every engine the process makes, before it makes them.
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)
        event.listen(Pool, "checkout", self._checkout)
        # Round trips: psycopg drives each exchange with the server as a generator that
        # waits on the socket (one that finishes without waiting, such as setting
        # autocommit or a rollback with no transaction open, is none), and redis-py writes
        # once per command or pipeline. Wrapped here, in this mode only.
        count_database_round_trips(self._database_round_trip)
        redis.connection.AbstractConnection.send_packed_command = self._counted(  # type: ignore[method-assign]
            redis.connection.AbstractConnection.send_packed_command, "redis_round_trips"
        )

    def _counted(self, function: Callable[..., Any], counter: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if self.current is not None:
                setattr(self.current, counter, getattr(self.current, counter) + 1)
            return function(*args, **kwargs)

        return counted

    def _database_round_trip(self) -> None:
        if self.current is not None:
            self.current.database_round_trips += 1

    def _start(self, **kwargs: Any) -> None:
        if self.profiler is not None:
            self.profiler.enable()

    def _task_started(self, task: Any, **kwargs: Any) -> None:
        self.current = self.stats[task.name]
        self.started = time.perf_counter()
        self.started_cpu = time.thread_time()

    def _task_ended(self, task: Any, **kwargs: Any) -> None:
        if self.current is not None:
            self.current.count += 1
            self.current.seconds += time.perf_counter() - self.started
            self.current.cpu_seconds += time.thread_time() - self.started_cpu
        self.current = None

    def _statement(self, *args: Any) -> None:
        if self.current is not None:
            self.current.statements += 1

    def _commit(self, *args: Any) -> None:
        if self.current is not None:
            self.current.commits += 1

    def _checkout(self, *args: Any) -> None:
        if self.current is not None:
            self.current.checkouts += 1

    def _dump(self, **kwargs: Any) -> None:
        pid = os.getpid()
        if self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(self.directory / f"{pid}.prof")
        stats = {name: vars(value) for name, value in self.stats.items()}
        (self.directory / f"{pid}.json").write_text(json.dumps(stats))


# The benchmark itself.


class BenchError(Exception):
    """The benchmark could not finish: a worker died, a meeting failed, a round timed out."""


@dataclass
class WorkerProcess:
    command: Sequence[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped whole, pool too
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while b" ready." not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the worker did not start:\n{self.output()}")
            time.sleep(0.1)

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise BenchError(f"the worker exited:\n{self.output()}")

    def stop(self) -> None:
        """A warm shutdown (SIGTERM), so pool processes run their exit hooks (--profile)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def worker_env(
    database_url: str, audio_root: Path, profile_dir: Path | None, *, cprofile: bool
) -> dict[str, str]:
    # Production defaults for everything else (leases, time limits, retries): only where
    # to find the database, broker and recordings is this run's own.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CELERY_") and key not in {"DATABASE_URL", "AUDIO_ROOTS"}
    }
    env.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=REDIS_URL,
        AUDIO_ROOTS=str(audio_root),
        HF_HUB_OFFLINE="1",
    )
    if profile_dir is not None:
        env[PROFILE_ENV] = str(profile_dir)
        if cprofile:
            env[CPROFILE_ENV] = "1"
    return env


def worker_command(concurrency: int) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--",
        "--hostname",
        f"bench-{uuid.uuid4().hex[:6]}@%h",
        "--queues",
        ",".join([*PIPELINE_QUEUES, BARE_QUEUE]),
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        # As the worker tests start theirs: no cluster chatter with other workers.
        "--without-mingle",
        "--without-gossip",
    ]


@dataclass
class Bench:
    client: Celery
    redis: redis.Redis
    runtime: Runtime
    worker: WorkerProcess
    timeout: float

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            self.worker.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"timed out after {self.timeout:.0f} s waiting for {what}")
            time.sleep(POLL_S)

    def run_bare(self, count: int) -> float:
        """Seconds from sending `count` chains until the last of them has run."""
        target = int(self.redis.get(BARE_DONE_KEY) or 0) + count
        started = time.perf_counter()
        with self.client.producer_or_acquire() as producer:
            for index in range(count):
                self.client.send_task(
                    "bench.noop_1", args=[index], queue=BARE_QUEUE, producer=producer
                )
        self.wait_until(
            lambda: int(self.redis.get(BARE_DONE_KEY) or 0) >= target, f"{count} bare chains"
        )
        return time.perf_counter() - started

    def store_meetings(self, count: int, audio: Path) -> list[uuid.UUID]:
        """Pending conversations as an upload hook stores them (not timed)."""
        event = UploadEvent(
            source_uri=str(audio),
            title="Beta launch planning",
            participants=[
                UploadParticipant(name="Ann Lee", email="ann@example.com", organizer=True),
                UploadParticipant(name="Bob Stone"),
            ],
        )
        return [store_upload(event, runtime=self.runtime).conversation_id for _ in range(count)]

    def count_round_trips(self, ids: Sequence[uuid.UUID]) -> dict[str, float]:
        """Database round trips per meeting of each stage, run here on the same providers.

        The tasks add none to their stage's: they parse the id and send the next message.
        """
        runtime = self.runtime
        transcriber, synthesizer = InstantTranscriber(), synthesis_chain([InstantSynthesizer()])
        counts = dict.fromkeys(("transcribe", "synthesize"), 0)
        stage = "transcribe"

        def count() -> None:
            counts[stage] += 1

        undo = count_database_round_trips(count)
        try:
            for conversation_id in ids:
                stage = "transcribe"
                outcomes = [
                    stages.transcribe(
                        conversation_id,
                        uow=runtime.unit_of_work(),
                        transcriber=transcriber,
                        sources=runtime.sources,
                        leases=runtime.leases,
                    )
                ]
                stage = "synthesize"
                outcomes.append(
                    stages.synthesize(
                        conversation_id,
                        uow=runtime.unit_of_work(),
                        synthesizer=synthesizer,
                        leases=runtime.leases,
                    )
                )
                if any(outcome is not stages.StageOutcome.DONE for outcome in outcomes):
                    raise BenchError(f"a stage did not finish: {outcomes}")
        finally:
            undo()
        return {name: total / len(ids) for name, total in counts.items()}

    def run_ours(self, ids: Sequence[uuid.UUID]) -> float:
        """Seconds from sending the meetings' first stage until all of them are completed."""
        target = self.count_finished() + len(ids)
        started = time.perf_counter()
        with self.client.producer_or_acquire() as producer:
            for conversation_id in ids:
                # By name, as any producer (the upload hook) sends it.
                self.client.send_task(
                    "pipeline.transcribe", args=[str(conversation_id)], producer=producer
                )

        self.wait_until(lambda: self.count_finished() >= target, f"{len(ids)} meetings")
        seconds = time.perf_counter() - started
        with self.runtime.unit_of_work() as uow:
            failed = uow.conversations.count(Conversation.status == ConversationStatus.FAILED)
        if failed:
            raise BenchError(f"{failed} meetings failed:\n{self.worker.output()}")
        return seconds

    def count_finished(self) -> int:
        # One query per poll (a failed meeting counts too, and is caught after the round),
        # so polling loads the database about as little as the bare run's GET loads Redis.
        with self.runtime.unit_of_work() as uow:
            return uow.conversations.count(
                Conversation.status.in_([ConversationStatus.COMPLETED, ConversationStatus.FAILED])
            )

    def follow_up_backlog(self) -> tuple[int, float, int]:
        """The action items' follow-up of every meeting run (its queue, off the hot path, is
        not consumed by the bench's worker), here, as one run of `pipeline.follow_up`
        takes it: meetings, seconds, database round trips."""
        trips = 0

        def count() -> None:
            nonlocal trips
            trips += 1

        undo = count_database_round_trips(count)
        try:
            started = time.perf_counter()
            followed = follow_up_completed(uow=self.runtime.unit_of_work())
            return followed, time.perf_counter() - started, trips
        finally:
            undo()


def run(options: argparse.Namespace) -> None:
    meetings: int = options.meetings
    repeats: int = options.repeats
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    profile_dir: Path | None = options.profile
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minutes-bench-") as temp, scratch_database() as url:
        audio_root = Path(temp) / "audio"
        audio_root.mkdir()
        # The stages check the source is a file inside AUDIO_ROOTS; the instant transcriber
        # never reads it.
        audio = audio_root / "meeting.wav"
        audio.write_bytes(b"RIFF")
        runtime = Runtime(Settings(database_url=SecretStr(url), audio_roots=[audio_root]))
        client = Celery("bench", broker=REDIS_URL)
        client.conf.update(task_routes=celeryconfig.task_routes, task_serializer="json")
        worker = WorkerProcess(
            worker_command(options.concurrency),
            worker_env(url, audio_root, profile_dir, cprofile=options.cprofile),
            Path(temp) / "worker.log",
        )
        bench = Bench(client, broker, runtime, worker, options.timeout)
        bare: list[float] = []
        ours: list[float] = []
        try:
            round_trips = bench.count_round_trips(bench.store_meetings(ROUND_TRIP_MEETINGS, audio))
            warm_up = WARM_UP * options.concurrency
            batches = [bench.store_meetings(n, audio) for n in [warm_up] + [meetings] * repeats]
            worker.start()
            bench.run_bare(warm_up)
            bench.run_ours(batches[0])
            for round_number, batch in enumerate(batches[1:]):
                # Each side goes first in every other round, so neither always runs on the
                # other's leftovers (the database's autovacuum, the broker's freed memory).
                if round_number % 2 == 0:
                    bare.append(bench.run_bare(meetings))
                    ours.append(bench.run_ours(batch))
                else:
                    ours.append(bench.run_ours(batch))
                    bare.append(bench.run_bare(meetings))
                print(
                    f"  round {len(ours)}: ours {meetings / ours[-1]:.1f} meetings/s, "
                    f"bare chain {meetings / bare[-1]:.1f} chains/s"
                )
            worker.stop()
            backlog = bench.follow_up_backlog()
        finally:
            worker.stop()
            client.close()
            runtime.engine.dispose()
            broker.flushdb()
            broker.close()
    report(meetings, repeats, options.concurrency, ours, bare)
    print_round_trips(round_trips)
    followed, seconds, trips = backlog
    print(
        f"action items' follow-up (queue follow_up, off the hot path): {followed} meetings "
        f"in {seconds:.1f} s, {1000 * seconds / followed:.1f} ms and {trips / followed:.1f} "
        f"database round trips per meeting, in batches of {FOLLOW_UP_BATCH}"
    )
    if profile_dir is not None:
        print_profile(profile_dir)


def report(
    meetings: int, repeats: int, concurrency: int, ours: Sequence[float], bare: Sequence[float]
) -> None:
    print(f"meetings: {meetings} per round, {repeats} interleaved rounds, {os.cpu_count()} CPUs")
    print(
        f"worker: 1 prefork worker, --concurrency {concurrency}, queues "
        f"{','.join([*PIPELINE_QUEUES, BARE_QUEUE])}, production settings"
    )
    print(
        "bare chain: bench.noop_1 -> 2 -> 3, each sending the next from its body as our "
        "stages do (not celery.chain: a stage that skips must not go on, so ours cannot be "
        "one; this way both send the same messages); the last INCRs a Redis counter"
    )
    best_ours, best_bare = min(ours), min(bare)
    print(f"ours: best {best_ours:.2f} s for {meetings} meetings, {meetings / best_ours:.1f}/s")
    print(f"bare chain: best {best_bare:.2f} s for {meetings} chains, {meetings / best_bare:.1f}/s")
    median_ours, median_bare = statistics.median(ours), statistics.median(bare)
    print(
        f"medians: ours {meetings / median_ours:.1f} meetings/s, bare chain "
        f"{meetings / median_bare:.1f} chains/s, ratio {median_bare / median_ours:.2f}"
    )
    print(
        f"ours {meetings / best_ours:.1f} meetings/s, bare chain {meetings / best_bare:.1f} "
        f"chains/s, ratio {best_bare / best_ours:.2f} (best of each; target >= 0.6)"
    )


def print_round_trips(per_stage: dict[str, float]) -> None:
    stages = ", ".join(f"{name} {count:.1f}" for name, count in per_stage.items())
    print(
        f"database round trips per meeting: {sum(per_stage.values()):.1f} ({stages}; "
        f"counted over {ROUND_TRIP_MEETINGS} meetings run through the stages in this process)"
    )


def print_profile(directory: Path) -> None:
    totals: dict[str, _TaskStats] = defaultdict(_TaskStats)
    for path in directory.glob("*.json"):
        for name, values in json.loads(path.read_text()).items():
            total = totals[name]
            for key, value in values.items():
                setattr(total, key, getattr(total, key) + value)
    print("per task run (all rounds, warm-up included):")
    for name, total in sorted(totals.items()):
        n = total.count
        print(
            f"  {name}: {n} runs, {1000 * total.seconds / n:.2f} ms "
            f"({1000 * total.cpu_seconds / n:.2f} ms CPU), "
            f"{total.statements / n:.1f} statements, {total.checkouts / n:.1f} checkouts, "
            f"{total.commits / n:.1f} commits, "
            f"{total.database_round_trips / n:.1f} database round trips, "
            f"{total.redis_round_trips / n:.1f} Redis round trips"
        )
    profiles = [str(path) for path in directory.glob("*.prof")]
    if profiles:
        stats = pstats.Stats(*profiles)
        stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--meetings", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per round")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR")
    parser.add_argument("--cprofile", action="store_true", help="with --profile")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("celery", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        run_worker([arg for arg in options.celery if arg != "--"])
        return
    if options.meetings < 1 or options.repeats < 1 or options.concurrency < 1:
        parser.error("--meetings, --repeats and --concurrency must be at least 1")
    try:
        run(options)
    except BenchError as error:
        sys.exit(f"orchestration bench: {error}")


if __name__ == "__main__":
    main()
