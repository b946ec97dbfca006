"""Small builders for test rows, written through the repositories like real code does."""

from __future__ import annotations

import uuid
from typing import Any

from repositories.database import UnitOfWork
from repositories.models import ConversationStatus
from repositories.segments import NewSegment


def conversation(uow: UnitOfWork, **values: Any) -> uuid.UUID:
    values.setdefault("source_uri", "/recordings/weekly.wav")
    values.setdefault("title", "Weekly sync")
    with uow:
        return uow.conversations.create(**values).id


def participant(uow: UnitOfWork, conversation_id: uuid.UUID, name: str, **values: Any) -> uuid.UUID:
    with uow:
        return uow.participants.create(conversation_id=conversation_id, name=name, **values).id


def segments(uow: UnitOfWork, conversation_id: uuid.UUID, *texts: str) -> None:
    with uow:
        uow.segments.replace_for_conversation(
            conversation_id,
            [
                NewSegment(start=index * 2.0, end=index * 2.0 + 1.5, text=text, speaker="Ann Lee")
                for index, text in enumerate(texts)
            ],
        )


def synthesis(uow: UnitOfWork, conversation_id: uuid.UUID, **values: Any) -> uuid.UUID:
    values.setdefault("summary", "The team planned the release.")
    values.setdefault("provider", "extractive")
    with uow:
        return uow.syntheses.create(conversation_id=conversation_id, **values).id


def conversation_in(uow: UnitOfWork, status: ConversationStatus, **values: Any) -> uuid.UUID:
    return conversation(uow, status=status, **values)
