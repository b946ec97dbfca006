"""The Celery tasks: thin shells over the stage functions, each sending the next.

A task parses its id, calls its stage with this process's runtime, and on DONE sends the
next stage (after the stage's transaction has committed: the stage commits before it
returns). The stages decide everything else: claims, leases, failures.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.signals import worker_process_init
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from pipeline import delivery, graph, stages
from pipeline.app import app
from pipeline.config import get_settings
from pipeline.follow_up import follow_up_completed, follow_up_is_due
from pipeline.queued import QueueRecords
from pipeline.retries import Backoff
from pipeline.runner import resynthesize_in_process, run_in_process, sync_graph_in_process
from pipeline.runtime import Runtime
from repositories.chunks import StuckChunk
from repositories.conversations import StuckConversation
from repositories.models import ConversationStatus

log = logging.getLogger(__name__)

_runtime: Runtime | None = None
_records: QueueRecords | None = None
# Lapsed conversations a sweep takes per transaction.
_SWEEP_BATCH = 500


def use_runtime(runtime: Runtime) -> None:
    """Run this process's tasks on `runtime` instead of one built from the settings.

    For programs that embed a worker with providers of their own (benchmarks, tests).
    """
    global _runtime
    _runtime = runtime


def current_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(get_settings())
    return _runtime


class StageTask(Task):  # type: ignore[type-arg]
    """A pipeline stage: transient errors retried with backoff and jitter, the rest final."""

    autoretry_for = stages.TRANSIENT_ERRORS
    max_retries = get_settings().task_max_retries
    backoff = Backoff(
        first=get_settings().retry_backoff_seconds, cap=get_settings().retry_backoff_max_seconds
    )

    # A property over Celery's plain (int) attribute, which is all its retry() reads.
    @property
    def default_retry_delay(self) -> float:  # type: ignore[override]
        # Celery waits this long before a retry given no countdown, as autoretry gives none
        # without retry_backoff: ours (equal jitter) in place of its full jitter, whose
        # waits are often about 0 s.
        retries: int = self.request.retries
        return self.backoff.countdown(retries)

    @property
    def final_attempt(self) -> bool:
        retries: int = self.request.retries
        return self.max_retries is not None and retries >= self.max_retries

    def progress_reporter(self, stage: str, conversation_id: str) -> stages.ProgressCallback:
        """Reports a stage's percent as the task's custom state, and as an event for Flower."""

        broker_away = False

        def report(percent: int) -> None:
            nonlocal broker_away
            if percent >= 100 or broker_away:
                return  # the task's own success, a moment later, says so
            try:
                self.update_state(
                    state="PROGRESS",
                    meta={"stage": stage, "percent": percent, "conversation_id": conversation_id},
                )
                if not self.request.is_eager:
                    self.send_event(
                        "task-progress",
                        stage=stage,
                        percent=percent,
                        conversation_id=conversation_id,
                    )
            except BrokerError as error:
                # Progress is for watching, not for the meeting: a broker that is away must
                # not fail the stage, nor hold it up with connection retries at every report.
                broker_away = True
                log.warning(
                    "progress not reported conversation_id=%s error=%s",
                    conversation_id,
                    type(error).__name__,
                )

        return report


@app.task(base=StageTask, bind=True, name="pipeline.transcribe")
def transcribe(self: StageTask, /, conversation_id: str, **kwargs: Any) -> str:
    runtime = current_runtime()
    outcome = stages.transcribe(
        uuid.UUID(conversation_id),
        uow=runtime.unit_of_work(),
        transcriber=runtime.transcriber,
        sources=runtime.sources,
        leases=runtime.leases,
        final_attempt=self.final_attempt,
        on_progress=self.progress_reporter("transcribe", conversation_id),
        long_recordings=runtime.long_recordings,
    )
    if outcome is stages.StageOutcome.DONE:
        _queue(synthesize, conversation_id)
    elif outcome is stages.StageOutcome.CHUNKED:
        uow = runtime.unit_of_work()
        for chunk_id in stages.chunks_to_send(uuid.UUID(conversation_id), uow=uow):
            _queue_chunk(conversation_id, str(chunk_id))
    return outcome.value


@app.task(base=StageTask, bind=True, name="pipeline.transcribe_chunk")
def transcribe_chunk(self: StageTask, /, conversation_id: str, chunk_id: str, **kwargs: Any) -> str:
    """One chunk of a long recording; the last one to land sends the stitching."""
    runtime = current_runtime()
    outcome = stages.transcribe_chunk(
        uuid.UUID(conversation_id),
        uuid.UUID(chunk_id),
        uow=runtime.unit_of_work(),
        long_recordings=runtime.long_recordings,
        sources=runtime.sources,
        leases=runtime.leases,
        final_attempt=self.final_attempt,
    )
    if outcome is stages.StageOutcome.LAST_CHUNK:
        _queue(transcribe, conversation_id)
    return outcome.value


@app.task(base=StageTask, bind=True, name="pipeline.synthesize")
def synthesize(self: StageTask, /, conversation_id: str, **kwargs: Any) -> str:
    runtime = current_runtime()
    outcome = stages.synthesize(
        uuid.UUID(conversation_id),
        uow=runtime.unit_of_work(),
        synthesizer=runtime.synthesizer,
        leases=runtime.leases,
        final_attempt=self.final_attempt,
        on_progress=self.progress_reporter("synthesize", conversation_id),
        mail_notes=runtime.mailer is not None,
    )
    if outcome is stages.StageOutcome.DONE:
        _completed(runtime, conversation_id)
    return outcome.value


@app.task(base=StageTask, bind=True, name="pipeline.complete")
def complete(self: StageTask, /, conversation_id: str, **kwargs: Any) -> str:
    """Completes notes stored apart from the completion (see `stages.complete`); the
    sweep sends it, and a message of an earlier version may still be queued."""
    runtime = current_runtime()
    outcome = stages.complete(
        uuid.UUID(conversation_id), uow=runtime.unit_of_work(), final_attempt=self.final_attempt
    )
    if outcome is stages.StageOutcome.DONE:
        _completed(runtime, conversation_id)
    return outcome.value


def _completed(runtime: Runtime, conversation_id: str) -> None:
    """What follows a completion once it is committed: the email, the graph, the follow-up."""
    if runtime.mailer is not None:
        _queue(send_notes_email, conversation_id)
    if runtime.settings.neo4j_uri:
        _queue(sync_graph)
    _queue_follow_up()


@app.task(bind=True, name="pipeline.follow_up")
def follow_up(self: Task, /, **kwargs: Any) -> int:  # type: ignore[type-arg]
    """Follow up the action items of every meeting completed since the last run.

    Sent once while one waits (`_queue_follow_up`), and by the sweep while any meeting is
    due; a run waits for the one under way, then takes what is left. Not retried by
    itself: what fails stays due, and the next completion or sweep sends it again.
    """
    # Before reading what is due: a completion from now on sends another run.
    _queue_records().follow_up_started()
    return follow_up_completed(uow=current_runtime().unit_of_work())


@app.task(base=StageTask, bind=True, name="pipeline.resynthesize")
def resynthesize(
    self: StageTask, /, conversation_id: str, providers: list[str] | None = None, **kwargs: Any
) -> str:
    """New notes for a completed conversation; `providers` (names, in order) for this run
    only, in place of SYNTHESIS_PROVIDER."""
    runtime = current_runtime()
    outcome = stages.resynthesize(
        uuid.UUID(conversation_id),
        uow=runtime.unit_of_work(),
        synthesizer=runtime.synthesizer_for(providers),
        final_attempt=self.final_attempt,
    )
    if outcome is stages.StageOutcome.DONE and runtime.settings.neo4j_uri:
        _queue(sync_graph)
    return outcome.value


@app.task(base=StageTask, bind=True, name="notify.email")
def send_notes_email(self: StageTask, /, conversation_id: str, **kwargs: Any) -> str:
    """A completed meeting's notes to its participants; a transient SMTP error retried
    with the stages' backoff, a delivery another worker holds looked at again once its
    claim lapses. New notes of a resynthesis are not mailed again by themselves."""
    runtime = current_runtime()
    sent = delivery.send_notes(
        uuid.UUID(conversation_id),
        uow=runtime.unit_of_work(),
        mailer=runtime.mailer,
        leases=runtime.leases,
        final_attempt=self.final_attempt,
    )
    if sent.outcome is delivery.DeliveryOutcome.BUSY and not self.final_attempt:
        raise self.retry(countdown=sent.retry_in)
    return sent.outcome.value


@app.task(name="graph.sync")
def sync_graph(**kwargs: Any) -> int:
    """Push the graph outbox to Neo4j; sent after each completion and on a schedule.

    Holds a worker only while it pushes: it stops at once when another sync is pushing,
    or when Neo4j is unreachable. Not retried by itself: what fails stays pending in the outbox,
    and the periodic sync takes it up again.
    """
    runtime = current_runtime()
    if runtime.graph is None:
        return 0  # NEO4J_URI unset: the events wait in the outbox
    report = graph.sync_graph(
        uow=runtime.unit_of_work(),
        writer=runtime.graph,
        batch_size=runtime.settings.graph_batch_size,
    )
    if report.yielded:
        log.info("graph sync left the outbox to the sync already running")
    if report.error is not None:
        log.warning("graph sync left events=%d pending error=%s", report.failed, report.error)
    return report.events


@app.task(base=StageTask, bind=True, name="pipeline.recover_stuck")
def recover_stuck(self: StageTask, /, **kwargs: Any) -> int:
    """The periodic sweep: sends again the stage of every conversation whose lease lapsed
    and whose message is not waiting in the broker."""
    runtime = current_runtime()
    # Deliveries whose worker died mid-send, or whose message the broker lost (a batch a
    # sweep: each is due again only a lease later, and mail is not urgent).
    due = delivery.take_due_deliveries(
        uow=runtime.unit_of_work(), leases=runtime.leases, limit=_SWEEP_BATCH
    )
    for conversation_id in due:
        _queue(send_notes_email, str(conversation_id))
    resent = len(due)
    if follow_up_is_due(uow=runtime.unit_of_work()):
        _queue_follow_up(always=True)
    while True:
        sweep = stages.requeue_stuck(
            uow=runtime.unit_of_work(),
            leases=runtime.leases,
            still_queued=_still_queued,
            chunks_still_queued=_chunks_still_queued,
            limit=_SWEEP_BATCH,
        )
        for chunk in sweep.lost_chunks:
            _queue_chunk(str(chunk.conversation_id), str(chunk.id))
        for conversation in sweep.lost:
            # Transcribe takes pending and lapsed transcribing alike.
            _queue(_awaited(conversation), str(conversation.id))
        resent += len(sweep.lost) + len(sweep.lost_chunks)
        # A broker loss strands the whole backlog: all of it is sent again in this sweep,
        # a batch per transaction (each examined row is due again only later).
        if sweep.examined < _SWEEP_BATCH:
            return resent


def _still_queued(conversations: Sequence[StuckConversation]) -> set[uuid.UUID]:
    """Those of the queued `conversations` whose awaited task's message is in the broker."""

    return _queue_records().waiting(
        [(conversation.id, _awaited(conversation).name) for conversation in conversations]
    )


def _awaited(conversation: StuckConversation) -> Task:  # type: ignore[type-arg]
    """The task a queued conversation waits for."""
    if conversation.status != ConversationStatus.SYNTHESIZING:
        return transcribe
    return complete if conversation.notes_stored else synthesize


def _chunks_still_queued(chunks: Sequence[StuckChunk]) -> set[uuid.UUID]:
    """Those of the queued `chunks` whose message is in the broker."""
    return _queue_records().waiting([(chunk.id, transcribe_chunk.name) for chunk in chunks])


def _queue_records() -> QueueRecords:
    global _records
    if _records is None:
        _records = QueueRecords(str(app.conf.broker_url))
    return _records


def start_pipeline(conversation_id: uuid.UUID, runtime: Runtime | None = None) -> None:
    """Queue a stored pending conversation; with no broker configured, run it right here.

    In-process, errors propagate (the stage has recorded them on the conversation). Queued,
    an unreachable broker is logged and not raised: the row is stored with a lease, and the
    recovery sweep sends it once that lapses, so the meeting is delayed, not lost.
    """
    if app.conf.task_always_eager:
        run_in_process(conversation_id, runtime or current_runtime())
        return
    _queue(transcribe, str(conversation_id))


def start_resynthesis(
    conversation_id: uuid.UUID, runtime: Runtime, providers: Sequence[str] | None = None
) -> stages.StageOutcome | None:
    """Queue new notes for a completed conversation; with no broker configured, write them
    right here (the outcome; None when queued). An unreachable broker raises: there is
    no lease to send it later by."""
    if app.conf.task_always_eager:
        return resynthesize_in_process(conversation_id, runtime, runtime.synthesizer_for(providers))
    order = None if providers is None else list(providers)
    resynthesize.delay(str(conversation_id), providers=order)
    return None


def start_graph_sync(runtime: Runtime) -> None:
    """Have the graph hear of what the outbox holds (a deletion): queued for the workers,
    or with no broker configured, pushed right here. Nothing without NEO4J_URI."""
    if not runtime.settings.neo4j_uri:
        return
    if app.conf.task_always_eager:
        sync_graph_in_process(runtime)
        return
    _queue(sync_graph)


def _queue(task: Task, conversation_id: str | None = None) -> None:  # type: ignore[type-arg]
    """Send `task` (for a conversation, or the graph sync) once its state is committed.

    A broker that is away is logged, not raised: a stage's lease says when it is due, and
    the recovery sweep sends it once the broker is back (the graph's periodic sync likewise).
    """
    with _logged_when_broker_away(f"conversation_id={conversation_id or '-'} task={task.name}"):
        if conversation_id is None:
            task.delay()
        else:
            task.delay(conversation_id)
            # After the message: a record without one would hide a lost send. The sweep
            # looks for it only `requeue_after` after the stage was queued.
            _queue_records().mark(conversation_id, task.name)


@contextmanager
def _logged_when_broker_away(queued: str) -> Iterator[None]:
    """A broker that is away while sending `queued` (what is sent, as `name=value` pairs),
    logged, not raised."""
    try:
        yield
    except (BrokerError, RedisError) as error:
        # The error's class only: its text may name the server and its credentials.
        log.warning("could not queue %s error=%s", queued, type(error).__name__)


def _queue_follow_up(*, always: bool = False) -> None:
    """Send a follow-up run unless one is waiting already (`always`: the sweep's, which
    sends one whatever the record says); a broker that is away is logged, as in `_queue`,
    and the sweep sends it later."""
    with _logged_when_broker_away(f"task={follow_up.name}"):
        if always or _queue_records().follow_up_wanted():
            follow_up.delay()


def _queue_chunk(conversation_id: str, chunk_id: str) -> None:
    """Send one chunk's transcription; a broker that is away is logged, as in `_queue`:
    the chunk's lease says when the sweep sends it again."""
    with _logged_when_broker_away(f"conversation_id={conversation_id} chunk_id={chunk_id}"):
        transcribe_chunk.delay(conversation_id, chunk_id)
        _queue_records().mark(chunk_id, transcribe_chunk.name)


@worker_process_init.connect
def _reconnect_after_fork(**kwargs: Any) -> None:
    # A pooled connection inherited from the parent must not be shared with it.
    if _runtime is not None:
        _runtime.dispose_connections()
