"""Deleting a meeting everywhere it lives: its rows (and with them its search entries and
action items), its downloaded copies, and, through the outbox, its graph nodes."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from integrations.audio_sources import AudioSources
from pipeline.follow_up import GRAPH_EVENT_FOLLOWED_UP
from repositories.database import UnitOfWork

log = logging.getLogger(__name__)

GRAPH_EVENT_DELETED = "conversation.deleted"


@dataclass(frozen=True, slots=True)
class Deleted:
    id: uuid.UUID
    title: str | None
    status: str  # what it was when deleted
    downloads: int  # downloaded copies of its recording removed from this machine


def delete_conversation(
    conversation_id: uuid.UUID, *, uow: UnitOfWork, sources: AudioSources
) -> Deleted | None:
    """Removes the conversation; None when there is none with that id.

    One transaction writes the `conversation.deleted` event and deletes the rows (the
    foreign keys cascade to everything the conversation owns), so the graph hears of
    exactly the deletions that happened. A stage still working on it finds it gone when it
    comes to write, and writes nothing.
    """
    with uow:
        # Locked: a stage's write waits for the deletion, then finds nothing to write to.
        conversation = uow.conversations.get_by_id(conversation_id, for_update=True)
        if conversation is None:
            return None
        # Their items lose a link to this meeting's (a repeat, a report of it done).
        for linked in sorted(uow.action_items.linked_conversations(conversation_id)):
            uow.graph_outbox.add_event(
                linked,
                GRAPH_EVENT_FOLLOWED_UP,
                {"conversation_id": str(linked), "deleted": str(conversation_id)},
            )
        # Not the conversation's own event (that one goes with it): the payload names it.
        uow.graph_outbox.add_event(
            None, GRAPH_EVENT_DELETED, {"conversation_id": str(conversation_id)}
        )
        deleted = Deleted(conversation.id, conversation.title, conversation.status.value, 0)
        uow.conversations.delete(conversation)
    downloads = sources.remove_downloads(str(conversation_id))
    log.info("deleted conversation_id=%s downloads=%d", conversation_id, downloads)
    return Deleted(deleted.id, deleted.title, deleted.status, downloads)
