"""The notes of a conversation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    Delete,
    Insert,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from repositories.base import Repository
from repositories.models import Conversation, ConversationStatus, EmailStatus, Synthesis


@dataclass(frozen=True, slots=True)
class EmailClaim:
    """A delivery a worker holds: the notes to send and to whom, as asked."""

    synthesis_id: uuid.UUID
    message_id: str
    recipients: list[str] | None  # None: the participants with an email, and EMAIL_TO
    attempts: int


class SynthesisRepository(Repository[Synthesis]):
    model = Synthesis

    def get_by_conversation(self, conversation_id: uuid.UUID) -> Synthesis | None:
        statement = select(Synthesis).where(Synthesis.conversation_id == conversation_id)
        return self.session.scalars(statement).one_or_none()

    def add_for_conversation(self, conversation_id: uuid.UUID, **values: Any) -> None:
        """Store a conversation's first notes: one INSERT, without the ORM's flush (the
        pipeline's hot path, which needs no Synthesis object back)."""
        self.execute(_INSERT, {"conversation_id": conversation_id, **values})

    def replace_for_conversation(self, conversation_id: uuid.UUID, **values: Any) -> None:
        """Put new notes in place of a conversation's notes. Its email delivery state stays:
        notes already sent are not sent again by themselves."""
        updated = self.update_where(Synthesis.conversation_id == conversation_id, **values)
        if not updated:
            self.add_for_conversation(conversation_id, **values)

    def set_action_items(self, conversation_id: uuid.UUID, items: list[Any]) -> None:
        """Replace the notes' action items (owners corrected), the rest of the notes kept."""
        self.update_where(Synthesis.conversation_id == conversation_id, action_items=items)

    def delete_for_conversation(self, conversation_id: uuid.UUID) -> None:
        """Drop notes a new transcript has made stale."""
        self.session.execute(
            delete(Synthesis)
            .where(Synthesis.conversation_id == conversation_id)
            .execution_options(synchronize_session=False)
        )

    # Email delivery: the claim is a compare-and-set as a conversation's stage's is, so one
    # worker at a time sends a delivery, and a lapsed claim (its worker died) is taken over.

    def claim_email(
        self,
        conversation_id: uuid.UUID,
        *,
        token: uuid.UUID,
        now: datetime,
        lease_until: datetime,
        message_id: str,
    ) -> EmailClaim | None:
        """Hold the pending delivery of a completed conversation's notes until `lease_until`;
        None when there is none, or another worker holds it. `message_id` is kept only by
        the delivery's first attempt."""
        statement = (
            update(Synthesis)
            .where(
                Synthesis.conversation_id == conversation_id,
                Synthesis.email_status == EmailStatus.PENDING,
                _not_held(now),
                exists().where(
                    Conversation.id == conversation_id,
                    Conversation.status == ConversationStatus.COMPLETED,
                ),
            )
            .values(
                email_claim_token=token,
                email_claim_expires_at=lease_until,
                email_attempts=Synthesis.email_attempts + 1,
                email_message_id=func.coalesce(Synthesis.email_message_id, message_id),
            )
            .returning(
                Synthesis.id,
                Synthesis.email_message_id,
                Synthesis.email_recipients,
                Synthesis.email_attempts,
            )
            .execution_options(synchronize_session=False)
        )
        row = self.session.execute(statement).one_or_none()
        if row is None:
            return None
        return EmailClaim(row[0], row[1], row[2], row[3])

    def finish_email(
        self,
        conversation_id: uuid.UUID,
        *,
        message_id: str,
        status: EmailStatus,
        recipients: list[str] | None,
        error: str | None,
        sent_at: datetime | None = None,
    ) -> bool:
        """Record how the delivery of `message_id` ended; False when it is no longer pending
        (another worker finished it) or was asked again meanwhile (a new message)."""
        return bool(
            self.update_where(
                Synthesis.conversation_id == conversation_id,
                Synthesis.email_status == EmailStatus.PENDING,
                Synthesis.email_message_id == message_id,
                email_status=status,
                email_recipients=recipients,
                email_error=error,
                email_sent_at=sent_at,
                email_claim_token=None,
                email_claim_expires_at=None,
            )
        )

    def release_email(self, conversation_id: uuid.UUID, *, token: uuid.UUID, error: str) -> None:
        """Give a delivery back to be tried again (its retry takes it at once); its lapse
        stays, so the sweep looks at it only if that retry never comes."""
        self.update_where(
            Synthesis.conversation_id == conversation_id,
            Synthesis.email_claim_token == token,
            email_claim_token=None,
            email_error=error,
        )

    def request_email(
        self,
        conversation_id: uuid.UUID,
        *,
        now: datetime,
        message_id: str,
        recipients: list[str] | None,
    ) -> bool:
        """A new delivery of the notes, whatever became of the last one; False when there
        are no notes or a worker is sending them right now."""
        return bool(
            self.update_where(
                Synthesis.conversation_id == conversation_id,
                _not_held(now),
                email_status=EmailStatus.PENDING,
                email_recipients=recipients,
                email_message_id=message_id,
                email_error=None,
                email_sent_at=None,
                email_attempts=0,
                email_claim_token=None,
                email_claim_expires_at=None,
            )
        )

    def take_due_emails(
        self, *, now: datetime, unclaimed_since: datetime, look_again_at: datetime, limit: int
    ) -> list[uuid.UUID]:
        """Conversations whose pending delivery is owed a message: its claim lapsed (its
        worker died), or it was never claimed since completing before `unclaimed_since` (its
        message was lost). Each is looked at again only after `look_again_at`."""
        due = (
            select(Synthesis.id, Synthesis.conversation_id)
            .join(Conversation, Conversation.id == Synthesis.conversation_id)
            .where(
                Synthesis.email_status == EmailStatus.PENDING,
                Conversation.status == ConversationStatus.COMPLETED,
                or_(
                    Synthesis.email_claim_expires_at < now,
                    and_(
                        Synthesis.email_claim_expires_at.is_(None),
                        Conversation.completed_at < unclaimed_since,
                    ),
                ),
            )
            .order_by(Synthesis.created_at)
            .limit(limit)
            # SKIP LOCKED so two sweeps split the rows instead of sending each twice.
            .with_for_update(of=Synthesis, skip_locked=True)
        )
        rows = self.session.execute(due).all()
        if rows:
            self.update_where(
                Synthesis.id.in_([row[0] for row in rows]),
                email_claim_token=None,
                email_claim_expires_at=look_again_at,
            )
        return [row[1] for row in rows]


def _not_held(now: datetime) -> ColumnElement[bool]:
    return or_(Synthesis.email_claim_token.is_(None), Synthesis.email_claim_expires_at < now)


_TABLE = cast(Table, Synthesis.__table__)
# Built once; the columns a call leaves out get their defaults (id, created_at, ...).
_INSERT = insert(_TABLE)


# PostgreSQL's one-statement synthesis (ConversationRepository.release_with_notes): the
# notes written for the conversation a CTE returns (its `id`).


def notes_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of `notes_insert_selected` for `add_for_conversation`'s `values`, with the
    Python-side defaults of the columns they leave out (an INSERT ... SELECT renders none);
    the columns with a server-side default get that."""
    row = dict(values)
    for name, column in _TABLE.columns.items():
        default = column.default
        if name in row or default is None or column.server_default is not None:
            continue
        if default.is_scalar:
            row[name] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            row[name] = default.arg(None)  # type: ignore[attr-defined]
    return {f"notes_{name}": value for name, value in row.items()}


def notes_insert_selected(conversations: CTE, names: tuple[str, ...]) -> Insert:
    """The notes' INSERT, of the columns `names` (from `notes_parameters`), returning its id."""
    return (
        insert(_TABLE)
        .from_select(
            ["conversation_id", *names],
            select(
                conversations.c.id,
                *(bindparam(f"notes_{name}", type_=_TABLE.c[name].type) for name in names),
            ),
            include_defaults=False,
        )
        .returning(_TABLE.c.id)
    )


def notes_delete_selected(conversations: CTE) -> Delete:
    """Notes a new transcript has made stale."""
    return delete(_TABLE).where(_TABLE.c.conversation_id.in_(select(conversations.c.id)))
