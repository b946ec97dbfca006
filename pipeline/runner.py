"""Runs a conversation through every stage in this process (no broker configured)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from integrations.graph.writer import GraphWriter
from integrations.synthesis.chain import SynthesisChain
from pipeline import delivery, graph, stages
from pipeline.follow_up import follow_up_completed
from pipeline.metrics import measured_stage
from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


def run_in_process(
    conversation_id: uuid.UUID,
    runtime: Runtime,
    *,
    on_stage: Callable[[str], None] = lambda stage: None,
    on_progress: Callable[[str, int], None] = lambda stage, percent: None,
) -> stages.StageOutcome:
    """Transcribe, synthesize (which completes), follow up the action items (and, when
    NEO4J_URI is set, sync the graph); the outcome of the last stage that ran. `on_stage`
    hears each stage's name as it starts, `on_progress` the name and percent done of one
    that reports them.

    In-process there is no retry to wait for, so every error is final: the stage records
    the conversation as failed (with the error's message) and the error propagates.
    """
    uow = runtime.unit_of_work()
    steps: list[tuple[str, Callable[[], stages.StageOutcome]]] = [
        (
            "transcribe",
            lambda: _transcribe_in_process(
                conversation_id,
                runtime,
                on_progress=lambda percent: on_progress("transcribe", percent),
            ),
        ),
        (
            "synthesize",
            lambda: stages.synthesize(
                conversation_id,
                uow=uow,
                synthesizer=runtime.synthesizer,
                leases=runtime.leases,
                on_progress=lambda percent: on_progress("synthesize", percent),
                mail_notes=runtime.mailer is not None,
            ),
        ),
    ]
    outcome = stages.StageOutcome.DONE
    for name, step in steps:
        on_stage(name)
        with measured_stage(f"pipeline.{name}"):  # the name of the stage's task
            outcome = step()
        if outcome is not stages.StageOutcome.DONE:
            return outcome
    on_stage("follow-up")
    with measured_stage("pipeline.follow_up"):
        follow_up_completed(uow=uow)
    if runtime.graph is not None:
        on_stage("graph")
        _sync_graph(runtime, runtime.graph)
    on_stage("email")
    _send_notes(conversation_id, runtime)
    return outcome


def _transcribe_in_process(
    conversation_id: uuid.UUID, runtime: Runtime, *, on_progress: Callable[[int], None]
) -> stages.StageOutcome:
    """The transcription stage; a long recording's chunks one after another, through the
    same stages the workers run (the progress: chunks done over chunks), then stitched."""
    uow = runtime.unit_of_work()

    def transcribe() -> stages.StageOutcome:
        return stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=runtime.transcriber,
            sources=runtime.sources,
            leases=runtime.leases,
            on_progress=on_progress,
            long_recordings=runtime.long_recordings,
        )

    outcome = transcribe()
    if outcome is not stages.StageOutcome.CHUNKED:
        return outcome
    chunks = stages.chunks_to_send(conversation_id, uow=uow)
    for done, chunk_id in enumerate(chunks):
        on_progress(100 * done // len(chunks))
        outcome = stages.transcribe_chunk(
            conversation_id,
            chunk_id,
            uow=uow,
            long_recordings=runtime.long_recordings,
            sources=runtime.sources,
            leases=runtime.leases,
        )
        if outcome is stages.StageOutcome.LAST_CHUNK:
            return transcribe()
        if outcome is not stages.StageOutcome.DONE:
            return outcome
    return outcome


def resynthesize_in_process(
    conversation_id: uuid.UUID, runtime: Runtime, synthesizer: SynthesisChain
) -> stages.StageOutcome:
    """New notes for a completed conversation (and, when NEO4J_URI is set, the graph
    synced); errors propagate, the old notes staying in place."""
    outcome = stages.resynthesize(
        conversation_id, uow=runtime.unit_of_work(), synthesizer=synthesizer
    )
    if outcome is stages.StageOutcome.DONE and runtime.graph is not None:
        _sync_graph(runtime, runtime.graph)
    return outcome


def _send_notes(conversation_id: uuid.UUID, runtime: Runtime) -> None:
    # Recorded whatever happens (skipped with no SMTP_URL; a failure with its reason, for
    # `minutes email` to send again): the meeting itself is complete.
    delivery.send_notes(
        conversation_id, uow=runtime.unit_of_work(), mailer=runtime.mailer, leases=runtime.leases
    )


def _sync_graph(runtime: Runtime, writer: GraphWriter) -> None:
    # The notes are stored whatever happens here: what fails waits in the outbox.
    report = graph.sync_graph(
        uow=runtime.unit_of_work(),
        writer=writer,
        batch_size=runtime.settings.graph_batch_size,
    )
    if report.error is not None:
        log.warning("the graph sync left events pending error=%s", report.error)


def sync_graph_in_process(runtime: Runtime) -> None:
    """Push the outbox to Neo4j now, when NEO4J_URI is set (after a deletion)."""
    if runtime.graph is not None:
        _sync_graph(runtime, runtime.graph)
