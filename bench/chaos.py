"""Chaos runs: the pipeline on real workers, broker, database and graph, with faults injected.

    python bench/chaos.py [--scenario NAME]... [--meetings N] [--kills N] [--set KEY=VALUE]...

Scenarios (all by default, in this order):

  kill-worker  worker processes kill -9'd mid-stage (--kills, 10), a replacement started each
               time; the lease sweep hands their stages on
  redis        Redis killed mid-run and started again empty: every queued message is lost
  postgres     PostgreSQL shut down mid-run (fast shutdown: sessions cut) and started again
  neo4j        Neo4j down for --neo4j-down seconds (60) while meetings keep arriving; they
               must keep completing, and the graph must catch up once it is back
  load         --load-meetings (300) meetings at once on near-instant providers

Each prints its meetings, how many completed, were lost (not completed, or not in the graph,
by the scenario's deadline) and duplicated (rows or graph items beyond one per meeting), and
its recovery time; a table of all of them ends the run, which exits 1 if a target is missed:
0 lost, 0 duplicated, recovery after the broker loss under 2 minutes, and meetings completing
while Neo4j is down.

The run brings its own PostgreSQL cluster (initdb), Redis and Neo4j (graphdb/'s launcher) on
free loopback ports, in a temporary folder removed at the end (`--keep` keeps it, with every
log), and never touches the machine's shared services. Workers are the production Celery
worker (this script in `--worker` mode: `pipeline.app` and its tasks, the settings from the
environment) on providers that stand in for the outside world: they sleep --stage-seconds
and answer, the notes made by the real extractive synthesizer. Every wait is bounded, and
every process the run started is killed when it ends, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import neo4j
from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from pydantic import SecretStr
from sqlalchemy import ColumnElement, Engine, func, select, text, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session

# Run as a plain script the repository's own modules (celeryconfig above all, which is not
# in an installed package) are not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chaos_services import (
    REPOSITORY,
    Neo4j,
    Postgres,
    Processes,
    Redis,
    ServiceError,
)
from orchestration import TRANSCRIPT  # the meeting the orchestration bench runs

import celeryconfig
from integrations.diarization.base import NamedTurn
from integrations.graph.model import Meeting, normalize_name
from integrations.synthesis.base import MeetingContext, Notes, Utterance
from integrations.synthesis.extractive import ExtractiveSynthesizer
from integrations.transcription.base import Transcript
from pipeline import schema
from pipeline.app import app
from pipeline.config import Settings
from pipeline.graph import meeting_graph
from pipeline.hooks import UploadEvent, UploadParticipant, store_upload
from pipeline.runtime import Runtime
from pipeline.stages import GRAPH_EVENT_COMPLETED
from pipeline.tasks import use_runtime
from repositories.database import create_database_engine
from repositories.models import (
    Conversation,
    ConversationStatus,
    GraphOutboxEvent,
    Participant,
    Synthesis,
    TranscriptSegment,
)

SCENARIOS = ("kill-worker", "redis", "postgres", "neo4j", "load")

# What makes recovery fast enough to watch in minutes, each still a setting an operator
# could run with: a lost worker's stage is taken over 30 s after its last heartbeat, the
# beat sweeps for lapsed leases and pushes the graph outbox every 10 s. Everything else
# (REQUEUE_AFTER_SECONDS above all, which decides how long a message lost with the broker
# waits) keeps its production default; --set changes any of them.
CHAOS_SETTINGS = {
    "LEASE_SECONDS": "30",
    "RECOVERY_INTERVAL_SECONDS": "10",
    "GRAPH_SYNC_INTERVAL_SECONDS": "10",
}
# What `minutes worker` consumes when started without -Q.
QUEUES = "transcription,synthesis,graph,follow_up,celery"
BROKER_LOSS_TARGET_S = 120.0
# Neo4j down must not stall meetings: at least this share of those that arrive during the
# outage completes during it (a stalled pipeline completed 2 of about 60).
COMPLETING_WHILE_DOWN_SHARE = 0.5

POLL_S = 0.5
# The scenario's database connections, the run's own polling included.
ACTIVE_CONNECTIONS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
)
WORKER_READY_TIMEOUT_S = 60.0
IN_FLIGHT = "in-flight"  # a file per pool process that is inside a provider call right now


# --worker mode: the production worker on providers that take a while and then answer.


@contextmanager
def _provider_call(state: Path, kind: str) -> Iterator[None]:
    """Marks this process as inside a provider call (the run kills workers while it is),
    and counts the call (a byte appended: atomic across processes)."""
    with (state / kind).open("ab") as calls:
        calls.write(b".")
    marker = state / IN_FLIGHT / str(os.getpid())
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


class SleepingTranscriber:
    def __init__(self, state: Path, seconds: float) -> None:
        self._state = state
        self._seconds = seconds

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
        with _provider_call(self._state, "transcriptions"):
            for step in range(1, 5):
                time.sleep(self._seconds / 4)
                if on_progress is not None:
                    on_progress(step / 4)
        return TRANSCRIPT


class SleepingSynthesizer:
    name = "sleeping"

    def __init__(self, state: Path, seconds: float) -> None:
        self._state = state
        self._seconds = seconds
        self._notes = ExtractiveSynthesizer()

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        with _provider_call(self._state, "syntheses"):
            time.sleep(self._seconds)
            return self._notes.synthesize(utterances, meeting)


def run_worker(state: Path, stage_seconds: float, celery_args: Sequence[str]) -> None:
    runtime = Runtime(
        Settings(),
        transcriber=SleepingTranscriber(state, stage_seconds),
        synthesizer=SleepingSynthesizer(state, stage_seconds),
    )
    use_runtime(runtime)
    app.worker_main(["worker", *celery_args])


# The run.


class ChaosError(Exception):
    """The run itself could not go on (a service or a worker did not start)."""


@dataclass
class Services:
    root: Path
    processes: Processes
    postgres: Postgres
    redis: Redis
    neo4j: Neo4j


@dataclass(frozen=True)
class Target:
    what: str
    met: bool


@dataclass
class Result:
    scenario: str
    meetings: int = 0
    completed: int = 0
    failed: int = 0
    missing_from_graph: int = 0  # completed, but not (wholly) in Neo4j by the deadline
    duplicated: int = 0
    recovery_s: float | None = None
    recovery_what: str = ""
    recovered: bool = True  # False: the deadline came first (recovery_s is then a bound)
    finished_s: float | None = None  # from the scenario's fault (or start) to all finished
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.meetings - self.completed + self.missing_from_graph

    @property
    def passed(self) -> bool:
        return all(target.met for target in self.targets)

    def recovery_text(self) -> str:
        if self.recovery_s is None:
            return "-"
        if not self.recovered:
            return f"> {self.recovery_s:.0f} s"
        return f"{self.recovery_s:.0f} s"


@dataclass
class Counts:
    by_status: dict[ConversationStatus, int]

    def of(self, status: ConversationStatus) -> int:
        return self.by_status.get(status, 0)

    @property
    def finished(self) -> int:
        return self.of(ConversationStatus.COMPLETED) + self.of(ConversationStatus.FAILED)


@dataclass
class Deployment:
    """One scenario's pipeline: its database, its workers and beat, the meetings it sent."""

    name: str
    services: Services
    options: argparse.Namespace
    state: Path
    env: dict[str, str]
    engine: Engine
    runtime: Runtime
    client: Celery
    audio: Path
    stage_seconds: float
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    beat: subprocess.Popen[bytes] | None = None
    ids: list[uuid.UUID] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    worker_count: int = 0
    unsent: int = 0  # meetings stored whose first message the broker refused
    most_connections: int = 0

    def say(self, message: str) -> None:
        print(f"  [{self.name} {time.monotonic() - self.started:6.1f} s] {message}", flush=True)

    # Processes.

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A worker, once it is ready."""
        self.worker_count += 1
        name = f"w{self.worker_count}"
        log = self.state / f"{name}.log"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--state",
            str(self.state),
            "--stage-seconds",
            str(self.stage_seconds),
            "--",
            "--hostname",
            f"{name}-{uuid.uuid4().hex[:6]}@%h",
            "--queues",
            QUEUES,
            "--concurrency",
            str(self.options.concurrency),
            "--loglevel",
            "INFO",
            "--events",  # as `minutes worker` starts it
            # Startup sync and chatter between workers: replacements start faster without.
            "--without-mingle",
            "--without-gossip",
        ]
        process = self.services.processes.start(command, log=log, env=self.env)
        self.workers.append(process)
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while b" ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise ChaosError(f"worker {name} did not start:\n{_tail(log)}")
            time.sleep(0.2)
        return process

    def start_beat(self) -> None:
        # A beat of its own, as the documented deployment runs it: killing workers leaves
        # the schedule running.
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "pipeline.app",
            "beat",
            "--schedule",
            str(self.state / "beat-schedule"),
            "--loglevel",
            "INFO",
        ]
        self.beat = self.services.processes.start(
            command, log=self.state / "beat.log", env=self.env
        )

    def kill_worker(self, process: subprocess.Popen[bytes]) -> None:
        self.services.processes.kill(process)
        self.workers.remove(process)

    def busy_workers(self) -> list[subprocess.Popen[bytes]]:
        """The workers with a pool process inside a provider call: mid-stage."""
        groups: set[int] = set()
        for marker in (self.state / IN_FLIGHT).iterdir():
            try:
                groups.add(os.getpgid(int(marker.name)))
            except ProcessLookupError:
                marker.unlink(missing_ok=True)  # left by a killed process
        return [worker for worker in self.workers if worker.pid in groups]

    def stop(self) -> None:
        for process in [*self.workers, *([self.beat] if self.beat else [])]:
            self.services.processes.stop(process)
        self.client.close()
        self.runtime.close()

    # Meetings.

    def submit(self, count: int) -> None:
        """Meetings as an upload hook stores and queues them (`send_task` by name)."""
        for _ in range(count):
            event = UploadEvent(
                source_uri=str(self.audio),
                title="Beta launch planning",
                participants=[
                    UploadParticipant(name="Ann Lee", email="ann@example.com", organizer=True),
                    UploadParticipant(name="Bob Stone"),
                ],
            )
            conversation_id = store_upload(event, runtime=self.runtime).conversation_id
            self.ids.append(conversation_id)
            try:
                self.client.send_task("pipeline.transcribe", args=[str(conversation_id)])
            except BrokerError:
                # As the hook does: the stored row's lease brings it back through the sweep.
                self.unsent += 1

    def counts(self) -> Counts | None:
        """Conversations by status; None while the database cannot be reached."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(Conversation.status, func.count()).group_by(Conversation.status)
                ).all()
                connections = connection.execute(ACTIVE_CONNECTIONS).scalar_one()
        except SQLAlchemyError:
            return None
        self.most_connections = max(self.most_connections, connections)
        return Counts({ConversationStatus(status): count for status, count in rows})

    def completed(self) -> int:
        counts = self.counts()
        return counts.of(ConversationStatus.COMPLETED) if counts else 0

    def wait_until_finished(self, deadline: float) -> float | None:
        """When every meeting had completed or failed; None if the deadline came first."""
        return self.wait_for(
            lambda: (counts := self.counts()) is not None and counts.finished >= len(self.ids),
            deadline,
        )

    def wait_for(self, condition: Callable[[], bool], deadline: float) -> float | None:
        while True:
            if condition():
                return time.monotonic()
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_S)

    def graph_caught_up(self) -> bool:
        try:
            with self.engine.connect() as connection:
                completed = connection.execute(
                    select(func.count()).where(Conversation.status == ConversationStatus.COMPLETED)
                ).scalar_one()
                pending = connection.execute(
                    select(func.count()).where(GraphOutboxEvent.processed_at.is_(None))
                ).scalar_one()
        except SQLAlchemyError:
            return False
        return pending == 0 and self.graph_meetings() >= completed

    def graph_meetings(self) -> int:
        try:
            with _graph_driver(self.services.neo4j.uri) as driver:
                records, _, _ = driver.execute_query(
                    "MATCH (m:Meeting) WHERE m.id IN $ids RETURN count(m) AS meetings",
                    ids=[str(conversation_id) for conversation_id in self.ids],
                    routing_=neo4j.RoutingControl.READ,
                )
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
            return 0
        meetings: int = records[0]["meetings"]
        return meetings

    def result(self) -> Result:
        """What the scenario left: statuses, duplicates in PostgreSQL and Neo4j."""
        result = Result(self.name, meetings=len(self.ids))
        counts = self.counts()
        if counts is None:
            result.notes.append("PostgreSQL unreachable at the end: nothing counted")
            return result
        result.completed = counts.of(ConversationStatus.COMPLETED)
        result.failed = counts.of(ConversationStatus.FAILED)
        with Session(self.engine) as session:
            # Each meeting has one synthesis, one transcript (no segment twice), each
            # participant once, one completion event; anything more is duplicated.
            duplicates = {
                "syntheses": _excess(session, Synthesis.conversation_id),
                "transcript segments": _excess(
                    session,
                    tuple_(
                        TranscriptSegment.conversation_id,
                        TranscriptSegment.start,
                        TranscriptSegment.end,
                        TranscriptSegment.text,
                    ),
                ),
                "segments beyond the transcript's": session.execute(
                    select(func.count())
                    .select_from(TranscriptSegment)
                    .where(TranscriptSegment.position >= len(TRANSCRIPT.segments))
                ).scalar_one(),
                "participants": _excess(
                    session, tuple_(Participant.conversation_id, func.lower(Participant.name))
                ),
                "completion events": session.execute(
                    select(
                        func.count() - func.count(GraphOutboxEvent.conversation_id.distinct())
                    ).where(GraphOutboxEvent.event_type == GRAPH_EVENT_COMPLETED)
                ).scalar_one(),
            }
        with self.runtime.unit_of_work() as uow:
            completed = uow.conversations.list_completed_with_notes(
                self.ids, limit=max(len(self.ids), 1)
            )
        graph_duplicates, result.missing_from_graph = _graph_check(
            self.services.neo4j.uri, [meeting_graph(conversation) for conversation in completed]
        )
        duplicates.update(graph_duplicates)
        result.duplicated = sum(duplicates.values())
        for what, count in duplicates.items():
            if count:
                result.notes.append(f"duplicated: {count} {what}")
        if unfinished := {
            status: count
            for status, count in counts.by_status.items()
            if status not in (ConversationStatus.COMPLETED, ConversationStatus.FAILED)
        }:
            result.notes.append(
                "not finished: " + ", ".join(f"{n} {status}" for status, n in unfinished.items())
            )
        if result.failed:
            result.notes.append(f"failed: {result.failed} ({self._first_errors()})")
        if exited := [worker for worker in self.workers if worker.poll() is not None]:
            result.notes.append(f"{len(exited)} workers exited by themselves (logs: --keep)")
        if self.unsent:
            result.notes.append(f"{self.unsent} meetings could not be queued (broker away)")
        transcriptions = _calls(self.state / "transcriptions")
        syntheses = _calls(self.state / "syntheses")
        result.notes.append(
            f"provider calls: {transcriptions} transcriptions, {syntheses} syntheses for "
            f"{len(self.ids)} meetings; at most {self.most_connections} database connections"
        )
        return result

    def _first_errors(self) -> str:
        with self.engine.connect() as connection:
            errors = connection.execute(
                select(Conversation.error_message, func.count())
                .where(Conversation.status == ConversationStatus.FAILED)
                .group_by(Conversation.error_message)
                .order_by(func.count().desc())
                .limit(3)
            ).all()
        return "; ".join(f"{count} x {message!r}" for message, count in errors)


def _excess(session: Session, key: ColumnElement[Any] | InstrumentedAttribute[Any]) -> int:
    """Rows beyond the first of each `key`."""
    excess: int = session.execute(select(func.count() - func.count(key.distinct()))).scalar_one()
    return excess


def _calls(counter: Path) -> int:
    return counter.stat().st_size if counter.exists() else 0


@contextmanager
def _graph_driver(uri: str) -> Iterator[neo4j.Driver]:
    driver = neo4j.GraphDatabase.driver(
        uri,
        auth=None,
        connection_timeout=5.0,
        max_transaction_retry_time=5.0,
        # The check names relationship types an empty graph does not have yet: not news.
        notifications_min_severity="OFF",
    )
    try:
        yield driver
    finally:
        driver.close()


GRAPH_CHECK = """
MATCH (m:Meeting) WHERE m.id IN $ids
RETURN m.id AS id,
       COUNT { (m)-[:DECIDED]->(:Decision) } AS decisions,
       COUNT { (m)-[:RAISED]->(:Question) } AS questions,
       COUNT { (m)-[:HAS_ACTION_ITEM]->(:ActionItem) } AS action_items,
       COUNT { (m)-[:DISCUSSED]->(:Topic) } AS topics,
       COUNT { (:Person)-[:ATTENDED]->(m) } AS attendees
"""


def _graph_check(uri: str, meetings: Sequence[Meeting]) -> tuple[dict[str, int], int]:
    """Graph items beyond what PostgreSQL holds (duplicated), and completed meetings the
    graph lacks or holds only in part (lost to the graph)."""
    expected: dict[str, dict[str, int]] = {}
    for meeting in meetings:
        expected[meeting.id] = {
            "decisions": len(meeting.decisions),
            "questions": len(meeting.questions),
            "action_items": len(meeting.action_items),
            "topics": len({normalize_name(topic) for topic in meeting.topics}),
            "attendees": len({attendance.person.key for attendance in meeting.attendees}),
        }
    duplicates = {"Meeting nodes": 0, "graph items": 0}
    try:
        with _graph_driver(uri) as driver:
            records, _, _ = driver.execute_query(
                GRAPH_CHECK, ids=list(expected), routing_=neo4j.RoutingControl.READ
            )
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
        return duplicates, len(expected)
    seen: set[str] = set()
    short: set[str] = set()
    for record in records:
        meeting_id: str = record["id"]
        if meeting_id in seen:
            duplicates["Meeting nodes"] += 1
            continue
        seen.add(meeting_id)
        for kind, count in expected[meeting_id].items():
            duplicates["graph items"] += max(0, record[kind] - count)
            if record[kind] < count:
                short.add(meeting_id)
    return duplicates, len(set(expected) - seen) + len(short)


# Scenarios.


def kill_worker(deployment: Deployment, options: argparse.Namespace) -> Result:
    deployment.submit(options.meetings)
    deployment.say(f"{options.meetings} meetings sent; killing a busy worker {options.kills}x")
    kills: list[float] = []
    deadline = deployment.started + options.deadline
    rng = random.Random(options.seed)
    while len(kills) < options.kills and time.monotonic() < deadline:
        busy_at = deployment.wait_for(lambda: bool(deployment.busy_workers()), deadline)
        if busy_at is None:
            break
        victim = rng.choice(deployment.busy_workers())
        deployment.kill_worker(victim)
        kills.append(time.monotonic())
        deployment.say(
            f"kill -9 {len(kills)}/{options.kills}: worker group {victim.pid} mid-stage; "
            f"{deployment.completed()} completed"
        )
        # The replacement joins before the next kill, so the meetings keep going meanwhile.
        deployment.start_worker()
        counts = deployment.counts()
        if counts is not None and counts.finished >= len(deployment.ids):
            break
        time.sleep(options.kill_gap)
    last_kill = kills[-1] if kills else time.monotonic()
    completed_while_killing = deployment.completed()
    result = finish(deployment, deadline, since=last_kill, after="the last kill")
    result.notes.append(f"{completed_while_killing} meetings completed by the last kill")
    result.targets.append(Target(f"{options.kills} kills mid-stage", len(kills) >= options.kills))
    if len(kills) < options.kills:
        result.notes.append(f"only {len(kills)} kills: no worker was mid-stage before the end")
    return result


def _outage_mid_run(
    deployment: Deployment,
    options: argparse.Namespace,
    *,
    what: str,
    stop: Callable[[], None],
    start: Callable[[], None],
    down: float,
) -> float:
    """Sends the meetings, stops a service a quarter of the way through and starts it again
    `down` seconds later; when it was back."""
    deployment.submit(options.meetings)
    quarter = max(1, options.meetings // 4)
    deployment.wait_for(
        lambda: deployment.completed() >= quarter, time.monotonic() + options.deadline / 2
    )
    deployment.say(f"{deployment.completed()} completed; {what}")
    stop()
    time.sleep(down)
    start()
    deployment.say(f"back after {down:.0f} s")
    return time.monotonic()


def redis_loss(deployment: Deployment, options: argparse.Namespace) -> Result:
    redis = deployment.services.redis
    back = _outage_mid_run(
        deployment,
        options,
        what="kill -9 Redis (it comes back empty)",
        stop=redis.kill,
        start=redis.start,
        down=options.redis_down,
    )
    deadline = back + options.recovery_deadline
    result = finish(deployment, deadline, since=back, after="Redis was back")
    result.targets.append(
        Target(
            f"recovery after the broker loss < {BROKER_LOSS_TARGET_S:.0f} s",
            result.recovered
            and result.recovery_s is not None
            and result.recovery_s < BROKER_LOSS_TARGET_S,
        )
    )
    return result


def postgres_restart(deployment: Deployment, options: argparse.Namespace) -> Result:
    postgres = deployment.services.postgres
    back = _outage_mid_run(
        deployment,
        options,
        what="PostgreSQL fast shutdown",
        stop=postgres.stop,
        start=postgres.start,
        down=options.pg_down,
    )
    deadline = back + options.recovery_deadline
    return finish(deployment, deadline, since=back, after="PostgreSQL was back")


@contextmanager
def arrivals(deployment: Deployment, every: float) -> Iterator[None]:
    """Meetings arriving one every `every` seconds (by the clock, however long a submission
    or the fault's own steps take) while the block runs."""
    stop = threading.Event()

    def arrive() -> None:
        due = time.monotonic()
        while not stop.wait(max(0.0, due - time.monotonic())):
            deployment.submit(1)
            due += every

    thread = threading.Thread(target=arrive, name="arrivals", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def neo4j_outage(deployment: Deployment, options: argparse.Namespace) -> Result:
    services = deployment.services
    with arrivals(deployment, options.arrival_seconds):
        time.sleep(options.neo4j_warm_up)
        down_at = time.monotonic()
        sent_before = len(deployment.ids)
        completed_before = deployment.completed()
        deployment.say(f"{completed_before} of {sent_before} completed; stopping Neo4j")
        services.neo4j.stop()
        time.sleep(max(0.0, down_at + options.neo4j_down - time.monotonic()))
        deployment.say("starting Neo4j again")
        services.neo4j.start()
        up_at = time.monotonic()
        completed_while_down = deployment.completed() - completed_before
        sent_while_down = len(deployment.ids) - sent_before
    deployment.say(
        f"Neo4j back after {up_at - down_at:.0f} s down: {completed_while_down} completed "
        f"while it was, of {sent_while_down} sent meanwhile"
    )
    deadline = up_at + options.recovery_deadline
    if deployment.wait_until_finished(deadline) is None:
        deployment.say("not every meeting finished by the deadline")
    caught_up = deployment.wait_for(deployment.graph_caught_up, deadline)
    result = deployment.result()
    result.recovery_what = "Neo4j was back -> graph caught up"
    result.recovered = caught_up is not None
    result.recovery_s = (caught_up or time.monotonic()) - up_at
    result.notes.append(
        f"while Neo4j was down ({up_at - down_at:.0f} s, its start-up included): "
        f"{completed_while_down} meetings completed, {sent_while_down} arrived"
    )
    result.targets.append(
        Target(
            "meetings keep completing while Neo4j is down",
            completed_while_down >= COMPLETING_WHILE_DOWN_SHARE * sent_while_down > 0,
        )
    )
    return result


def load(deployment: Deployment, options: argparse.Namespace) -> Result:
    started = time.monotonic()
    deployment.submit(options.load_meetings)
    sent = time.monotonic()
    deployment.say(f"{options.load_meetings} meetings sent in {sent - started:.1f} s")
    result = finish(
        deployment,
        started + options.deadline,
        since=started,
        after="the first was sent",
        is_recovery=False,
    )
    seconds = result.finished_s or options.deadline
    result.notes.append(
        f"{result.completed} meetings completed in {seconds:.1f} s: "
        f"{60 * result.completed / seconds:.0f} a minute"
    )
    return result


def finish(
    deployment: Deployment,
    deadline: float,
    *,
    since: float,
    after: str,
    is_recovery: bool = True,
) -> Result:
    """Waits (until `deadline`) for every meeting to finish and the graph to catch up; the
    time from `since` (what happened then: `after`) to all finished is the recovery time."""
    finished = deployment.wait_until_finished(deadline)
    if finished is None:
        deployment.say("not every meeting finished by the deadline")
    else:
        deployment.say(f"all finished {finished - since:.1f} s after {after}")
    if deployment.wait_for(deployment.graph_caught_up, deadline) is None:
        deployment.say("the graph did not catch up by the deadline")
    result = deployment.result()
    result.finished_s = None if finished is None else finished - since
    if is_recovery:
        result.recovery_what = f"{after} -> all finished"
        result.recovered = finished is not None
        result.recovery_s = (finished or time.monotonic()) - since
    return result


SCENARIO_RUNS: dict[str, Callable[[Deployment, argparse.Namespace], Result]] = {
    "kill-worker": kill_worker,
    "redis": redis_loss,
    "postgres": postgres_restart,
    "neo4j": neo4j_outage,
    "load": load,
}


def deploy(
    name: str, services: Services, options: argparse.Namespace, settings: dict[str, str]
) -> Deployment:
    """A migrated database of the scenario's own, a flushed broker, a beat and workers."""
    database = f"chaos_{name.replace('-', '_')}"
    url = services.postgres.create_database(database)
    engine = create_database_engine(url, connect_args={"connect_timeout": 3})
    schema.upgrade(engine)
    state = services.root / name
    (state / IN_FLIGHT).mkdir(parents=True)
    audio_root = state / "audio"
    audio_root.mkdir()
    # The stages check the source is a file inside AUDIO_ROOTS; the providers never read it.
    audio = audio_root / "meeting.wav"
    audio.write_bytes(b"RIFF")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "NEO4J_"))
        and key not in {"DATABASE_URL", "AUDIO_ROOTS", *CHAOS_SETTINGS, *settings}
    }
    env.update(
        settings,
        DATABASE_URL=url,
        CELERY_BROKER_URL=services.redis.url,
        NEO4J_URI=services.neo4j.uri,
        AUDIO_ROOTS=str(audio_root),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(REPOSITORY),
    )
    runtime = Runtime(Settings(database_url=SecretStr(url), audio_roots=[audio_root]))
    vars(runtime)["engine"] = engine
    client = Celery("chaos", broker=services.redis.url)
    client.conf.update(
        task_routes=celeryconfig.task_routes,
        task_serializer="json",
        # A producer facing a dead broker gives up after a few seconds, as the hook's would.
        broker_connection_timeout=2,
        broker_transport_options={"max_retries": 2},
    )
    stage_seconds = {
        "kill-worker": options.kill_stage_seconds,
        "load": options.load_stage_seconds,
    }.get(name, options.stage_seconds)
    return Deployment(
        name, services, options, state, env, engine, runtime, client, audio, stage_seconds
    )


def run_scenario(
    name: str, services: Services, options: argparse.Namespace, settings: dict[str, str]
) -> Result:
    print(f"\n== {name}", flush=True)
    services.redis.kill()
    services.redis.start()  # an empty broker for each scenario
    deployment = deploy(name, services, options, settings)
    try:
        deployment.start_beat()
        for _ in range(options.workers):
            deployment.start_worker()
        deployment.started = time.monotonic()
        result = SCENARIO_RUNS[name](deployment, options)
    finally:
        deployment.stop()
    result.targets[:0] = [
        Target("0 lost", result.lost == 0),
        Target("0 duplicated", result.duplicated == 0),
    ]
    print_result(result)
    return result


def print_result(result: Result) -> None:
    print(
        f"  {result.scenario}: meetings {result.meetings}, completed {result.completed}, "
        f"lost {result.lost}, duplicated rows {result.duplicated}, recovery "
        f"{result.recovery_text()}" + (f" ({result.recovery_what})" if result.recovery_what else "")
    )
    for note in result.notes:
        print(f"    {note}")
    for target in result.targets:
        print(f"    {'pass' if target.met else 'FAIL'}: {target.what}")


def print_summary(results: Sequence[Result], seconds: float) -> None:
    print(f"\nchaos run: {len(results)} scenarios in {seconds / 60:.1f} min")
    header = ("scenario", "meetings", "completed", "lost", "duplicated", "recovery", "targets")
    rows = [
        (
            r.scenario,
            str(r.meetings),
            str(r.completed),
            str(r.lost),
            str(r.duplicated),
            r.recovery_text(),
            "pass" if r.passed else "FAIL: " + "; ".join(t.what for t in r.targets if not t.met),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def start_services(root: Path) -> Services:
    processes = Processes()
    services = Services(
        root,
        processes,
        Postgres(root / "postgres", processes),
        Redis(root / "redis", processes),
        Neo4j(root / "neo4j", processes),
    )
    services.postgres.create()
    services.postgres.start()
    services.neo4j.start()
    return services


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # Every way of being told to stop ends the run through the cleanup below; SIGINT too,
    # which a shell ignores in the jobs it starts in the background.
    raise KeyboardInterrupt


def run(options: argparse.Namespace, settings: dict[str, str]) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="minutes-chaos-"))
    root.chmod(0o755)  # the cluster's own user must reach its folder inside
    processes: Processes | None = None
    results: list[Result] = []
    try:
        print(
            f"chaos run in {root}; settings: " + " ".join(f"{k}={v}" for k, v in settings.items())
        )
        print(
            f"workers: {options.workers} x `celery worker` on all queues, --concurrency "
            f"{options.concurrency}, a separate beat; providers sleep {options.stage_seconds} s "
            f"a stage ({options.kill_stage_seconds} s in kill-worker, "
            f"{options.load_stage_seconds} s in load)"
        )
        services = start_services(root)
        processes = services.processes
        print(
            f"services on loopback: PostgreSQL {services.postgres.port}, Redis "
            f"{services.redis.port}, Neo4j {services.neo4j.port}",
            flush=True,
        )
        for name in options.scenario or SCENARIOS:
            results.append(run_scenario(name, services, options, settings))
    except KeyboardInterrupt:
        print("\nchaos run interrupted: stopping everything it started", file=sys.stderr)
        return 130
    except (ChaosError, ServiceError) as error:
        print(f"chaos run: {error}", file=sys.stderr)
        return 1
    finally:
        if processes is not None:
            processes.kill_all()
        if options.keep:
            print(f"logs and data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        if results:
            print_summary(results, time.monotonic() - started)
    return 0 if all(result.passed for result in results) else 1


def _tail(log: Path, characters: int = 3000) -> str:
    return log.read_text(errors="replace")[-characters:]


def _setting(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.upper(), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="repeatable")
    parser.add_argument("--meetings", type=int, default=40, help="kill-worker, redis, postgres")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument(
        "--kill-gap", type=float, default=1.0, help="seconds from a replacement ready to a kill"
    )
    # Long enough that there is still work to kill mid-stage when the 10th kill comes.
    parser.add_argument("--kill-stage-seconds", type=float, default=2.0)
    parser.add_argument("--redis-down", type=float, default=5.0, help="seconds")
    parser.add_argument("--pg-down", type=float, default=20.0, help="seconds")
    parser.add_argument("--neo4j-down", type=float, default=60.0, help="seconds")
    parser.add_argument("--neo4j-warm-up", type=float, default=15.0, help="seconds")
    parser.add_argument("--arrival-seconds", type=float, default=1.0, help="neo4j: one per")
    parser.add_argument("--load-meetings", type=int, default=300)
    parser.add_argument("--stage-seconds", type=float, default=1.0)
    parser.add_argument("--load-stage-seconds", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds a scenario may take")
    parser.add_argument(
        "--recovery-deadline",
        type=float,
        default=140.0,
        help="seconds after a service is back before what is unfinished counts as lost",
    )
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a pipeline setting for the workers (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's folder and logs")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("celery", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        run_worker(options.state, options.stage_seconds, [a for a in options.celery if a != "--"])
        return
    if min(options.meetings, options.load_meetings, options.workers, options.concurrency) < 1:
        parser.error("--meetings, --load-meetings, --workers and --concurrency must be >= 1")
    settings = {**CHAOS_SETTINGS, **dict(options.set)}
    sys.exit(run(options, settings))


if __name__ == "__main__":
    main()
