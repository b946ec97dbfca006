"""Conversations and their lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from repositories.base import Repository
from repositories.models import Conversation, ConversationStatus, utc_now

Status = ConversationStatus

# The lifecycle's only legal moves; anything else is a bug in the caller, not a race.
TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    Status.PENDING: frozenset({Status.TRANSCRIBING, Status.FAILED}),
    Status.TRANSCRIBING: frozenset({Status.SYNTHESIZING, Status.FAILED}),
    Status.SYNTHESIZING: frozenset({Status.COMPLETED, Status.FAILED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset({Status.PENDING}),
}

# Each state stamps the moment it was entered.
_ENTERED_AT = {
    Status.TRANSCRIBING: "transcribing_at",
    Status.SYNTHESIZING: "synthesizing_at",
    Status.COMPLETED: "completed_at",
    Status.FAILED: "failed_at",
}


class IllegalTransitionError(ValueError):
    def __init__(self, source: ConversationStatus, target: ConversationStatus) -> None:
        super().__init__(f"a conversation cannot go from {source} to {target}")
        self.source = source
        self.target = target


class ConversationRepository(Repository[Conversation]):
    model = Conversation

    def transition(
        self,
        id: uuid.UUID,
        *,
        expected: ConversationStatus,
        target: ConversationStatus,
        **values: Any,
    ) -> bool:
        """Move one conversation from `expected` to `target`, setting `values` with it.

        Compare-and-set in one UPDATE: False means the row was not in `expected` (another
        worker moved it first, or it is gone), and nothing was written.
        """
        if target not in TRANSITIONS[expected]:
            raise IllegalTransitionError(expected, target)
        if target in _ENTERED_AT:
            values.setdefault(_ENTERED_AT[target], utc_now())
        values["updated_at"] = utc_now()
        changed = self.update_where(
            Conversation.id == id, Conversation.status == expected, status=target, **values
        )
        return changed == 1

    def lock_in_status(self, id: uuid.UUID, status: ConversationStatus) -> bool:
        """Locks the row until the transaction ends, if it is still in `status`.

        A stage that writes results without changing the state holds this lock, so no other
        worker can move the conversation on between its check and its write.
        """
        statement = (
            select(Conversation.id)
            .where(Conversation.id == id, Conversation.status == status)
            .with_for_update()
        )
        return self.session.scalar(statement) is not None

    def list_by_status(
        self, status: ConversationStatus, *, limit: int = 100, offset: int = 0
    ) -> Sequence[Conversation]:
        statement = (
            select(Conversation)
            .where(Conversation.status == status)
            .order_by(Conversation.created_at.desc(), Conversation.id)
            .limit(limit)
            .offset(offset)
        )
        return self.session.scalars(statement).all()

    def get_by_platform_meeting_id(
        self, platform: str, platform_meeting_id: str
    ) -> Conversation | None:
        statement = select(Conversation).where(
            Conversation.platform == platform,
            Conversation.platform_meeting_id == platform_meeting_id,
        )
        return self.session.scalars(statement).one_or_none()

    def list_recent(self, *, limit: int = 20) -> Sequence[Conversation]:
        return self.list(limit=limit)

    def get_with_participants(self, id: uuid.UUID) -> Conversation | None:
        return self.get_by_id(id, options=(selectinload(Conversation.participants),))

    def get_with_transcript(self, id: uuid.UUID) -> Conversation | None:
        """The conversation with everything `show` prints: people, segments, notes."""
        return self.get_by_id(
            id,
            options=(
                selectinload(Conversation.participants),
                selectinload(Conversation.segments),
                selectinload(Conversation.synthesis),
            ),
        )

    def search_by_title(self, text: str, *, limit: int = 50) -> Sequence[Conversation]:
        statement = (
            select(Conversation)
            .where(Conversation.title.icontains(text, autoescape=True))
            .order_by(Conversation.created_at.desc(), Conversation.id)
            .limit(limit)
        )
        return self.session.scalars(statement).all()
