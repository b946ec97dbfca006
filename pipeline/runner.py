"""Runs a conversation through every stage in this process (no broker configured)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from pipeline import stages
from pipeline.runtime import Runtime
from repositories.models import ConversationStatus

Status = ConversationStatus

# Where a conversation stands when each stage starts, for recording unexpected failures.
_STAGE_STATUS = {
    "transcribe": Status.TRANSCRIBING,
    "synthesize": Status.SYNTHESIZING,
    "complete": Status.SYNTHESIZING,
}


def run_in_process(
    conversation_id: uuid.UUID,
    runtime: Runtime,
    *,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> None:
    """Transcribe, synthesize, complete. Any error leaves the conversation failed and raises.

    In-process there is no retry to wait for, so an unexpected error is as final as a
    permanent one: it is recorded (`failed`, with its message) before it propagates.
    """
    uow = runtime.unit_of_work()
    steps: list[tuple[str, Callable[[], stages.StageOutcome]]] = [
        (
            "transcribe",
            lambda: stages.transcribe(
                conversation_id,
                uow=uow,
                transcriber=runtime.transcriber,
                sources=runtime.sources,
            ),
        ),
        (
            "synthesize",
            lambda: stages.synthesize(conversation_id, uow=uow, synthesizer=runtime.synthesizer),
        ),
        ("complete", lambda: stages.complete(conversation_id, uow=uow)),
    ]
    for name, step in steps:
        on_stage(name)
        try:
            step()
        except Exception as error:
            # The stage may have recorded a permanent failure already; this is a no-op then.
            stages.fail(
                conversation_id,
                uow=uow,
                expected=_STAGE_STATUS[name],
                error=str(error) or type(error).__name__,
            )
            raise
