"""Notes by email: the delivery stage, sent by `notify.email` after a conversation completes.

Exactly once in effect. A worker claims the delivery (a compare-and-set with a lease, as a
stage claims a conversation) before it sends, and records the outcome after; a redelivered
task finds it sent, or held. A worker that dies between sending and recording leaves a
lapsed claim: the delivery is taken over and sent again with the same Message-ID (kept from
its first attempt), so mail programs show one message.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from integrations.email.notes import MeetingNotes, NotedItem, compose
from integrations.email.smtp import Mailer, PermanentEmailError, TransientEmailError
from pipeline.leases import Leases
from pipeline.presenters import notes_document
from repositories.database import UnitOfWork
from repositories.models import Conversation, ConversationStatus, EmailStatus, utc_now
from repositories.syntheses import EmailClaim

log = logging.getLogger(__name__)

NO_SERVER = "SMTP_URL is not set"
NO_RECIPIENTS = "no recipients: no participant has an email and EMAIL_TO is empty"


class DeliveryOutcome(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # recorded: no SMTP server configured, or nobody to send to
    FAILED = "failed"  # recorded: refused for good, or retries exhausted
    FINISHED_BEFORE = "finished_before"  # sent, skipped or failed by an earlier run
    BUSY = "busy"  # another worker holds the delivery: look again once its claim lapses
    NOT_COMPLETED = "not_completed"  # the conversation has no completed notes (yet)
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: DeliveryOutcome
    recipients: tuple[str, ...] = ()
    reason: str | None = None
    # BUSY: seconds until the holder's claim lapses.
    retry_in: float | None = None


def send_notes(
    conversation_id: uuid.UUID,
    *,
    uow: UnitOfWork,
    mailer: Mailer | None,
    leases: Leases,
    final_attempt: bool = True,
) -> Delivery:
    """Send a completed conversation's notes, if its delivery is pending, and record how.

    A transient SMTP error is raised (TransientEmailError) for the task to retry, unless
    this is the `final_attempt`: then, as a permanent one, it is recorded as failed.
    """
    token = uuid.uuid4()
    with uow:
        now = utc_now()
        synthesis = uow.syntheses.get_by_conversation(conversation_id)
        claim = (
            None
            if synthesis is None
            else uow.syntheses.claim_email(
                conversation_id,
                token=token,
                now=now,
                lease_until=leases.until(now),
                message_id=_message_id(synthesis.id, mailer),
            )
        )
        if claim is None:
            return _not_claimed(uow, conversation_id)
        conversation = uow.conversations.get_with_transcript(conversation_id)
    assert conversation is not None  # the claim found it completed, and it holds the notes
    recipients = claim.recipients or _recipients(conversation, mailer)

    def record(outcome: DeliveryOutcome, reason: str | None, **values: Any) -> Delivery:
        with uow:
            if not uow.syntheses.finish_email(
                conversation_id,
                message_id=claim.message_id,
                status=EmailStatus(outcome.value),
                recipients=recipients,
                error=reason,
                **values,
            ):
                # Asked again, or finished by a worker that took over a claim lapsed meanwhile.
                log.warning("email outcome not recorded conversation_id=%s", conversation_id)
        log.info(
            "email %s conversation_id=%s attempt=%d reason=%s",
            outcome,
            conversation_id,
            claim.attempts,
            reason,
        )
        return Delivery(outcome, tuple(recipients), reason)

    if claim.attempts > leases.max_deliveries:
        # Taken again and again, never finished: it kills its worker, or a bug stops it.
        return record(DeliveryOutcome.FAILED, f"given up after {claim.attempts - 1} attempts")
    if mailer is None:
        return record(DeliveryOutcome.SKIPPED, NO_SERVER)
    if not recipients:
        return record(DeliveryOutcome.SKIPPED, NO_RECIPIENTS)
    message = compose(
        _meeting_notes(conversation),
        sender=mailer.sender,
        recipients=recipients,
        message_id=claim.message_id,
    )
    # No transaction is open while the server is talked to.
    try:
        refused = mailer.send(message, recipients)
    except TransientEmailError as error:
        if final_attempt:
            return record(
                DeliveryOutcome.FAILED, f"{error} (given up after attempt {claim.attempts})"
            )
        _release(uow, conversation_id, claim, token, str(error))
        raise
    except PermanentEmailError as error:
        return record(DeliveryOutcome.FAILED, str(error))
    refusals = "; ".join(f"{to}: {reply}" for to, reply in refused.items())
    return record(
        DeliveryOutcome.SENT, f"refused {refusals}" if refusals else None, sent_at=utc_now()
    )


def request_notes_email(
    conversation_id: uuid.UUID,
    *,
    uow: UnitOfWork,
    mailer: Mailer | None,
    recipients: Sequence[str] | None = None,
) -> bool:
    """A new delivery of a conversation's notes (to `recipients`, or to its participants
    with an email and EMAIL_TO), whatever became of the last one: a new message, with a
    Message-ID of its own. False when a worker is sending them right now."""
    with uow:
        synthesis = uow.syntheses.get_by_conversation(conversation_id)
        if synthesis is None:
            return False
        return uow.syntheses.request_email(
            conversation_id,
            now=utc_now(),
            message_id=_message_id(synthesis.id, mailer, uuid.uuid4().hex[:12]),
            recipients=list(_unique(recipients)) if recipients else None,
        )


def take_due_deliveries(*, uow: UnitOfWork, leases: Leases, limit: int) -> list[uuid.UUID]:
    """Conversations whose delivery is owed a new message: its worker died (its claim
    lapsed), or its message was lost (pending a lease's length after completing)."""
    with uow:
        now = utc_now()
        due = uow.syntheses.take_due_emails(
            now=now,
            unclaimed_since=now - timedelta(seconds=leases.seconds),
            look_again_at=leases.until(now),
            limit=limit,
        )
    for conversation_id in due:
        log.warning("email delivery due again conversation_id=%s", conversation_id)
    return due


def _release(
    uow: UnitOfWork, conversation_id: uuid.UUID, claim: EmailClaim, token: uuid.UUID, reason: str
) -> None:
    with uow:
        uow.syntheses.release_email(conversation_id, token=token, error=reason)
    log.info(
        "email to retry conversation_id=%s attempt=%d reason=%s",
        conversation_id,
        claim.attempts,
        reason,
    )


def _not_claimed(uow: UnitOfWork, conversation_id: uuid.UUID) -> Delivery:
    # The rare path, so the usual one stays a claim: say why it found nothing.
    conversation = uow.conversations.get_with_notes(conversation_id)
    if conversation is None:
        return Delivery(DeliveryOutcome.GONE)
    synthesis = conversation.synthesis
    if synthesis is None or conversation.status is not ConversationStatus.COMPLETED:
        return Delivery(DeliveryOutcome.NOT_COMPLETED)
    if synthesis.email_status is not EmailStatus.PENDING:
        return Delivery(
            DeliveryOutcome.FINISHED_BEFORE,
            tuple(synthesis.email_recipients or ()),
            synthesis.email_error,
        )
    lapses_at = synthesis.email_claim_expires_at
    retry_in = (lapses_at - utc_now()).total_seconds() if lapses_at else 0.0
    return Delivery(DeliveryOutcome.BUSY, retry_in=max(retry_in, 0.0) + 1.0)


def _message_id(synthesis_id: uuid.UUID, mailer: Mailer | None, variant: str = "") -> str:
    """The delivery's Message-ID: the notes' id (and, for one asked again, what tells it
    from the first), at the sender's domain."""
    domain = parseaddr(mailer.sender)[1].rpartition("@")[2] if mailer else ""
    local = f"{synthesis_id}.{variant}" if variant else str(synthesis_id)
    return f"<notes.{local}@{domain or 'minutes.invalid'}>"


def _recipients(conversation: Conversation, mailer: Mailer | None) -> list[str]:
    copied = mailer.copy_to if mailer else ()
    return list(_unique([*(p.email for p in conversation.participants if p.email), *copied]))


def _unique(addresses: Iterable[str]) -> Iterable[str]:
    # Addresses differing only in case are one mailbox in practice.
    seen: set[str] = set()
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            yield address


def _meeting_notes(conversation: Conversation) -> MeetingNotes:
    notes = notes_document(conversation.synthesis, conversation.segments)
    assert notes is not None  # claimed: the conversation has notes

    def items(listed: Sequence[Mapping[str, Any]]) -> tuple[NotedItem, ...]:
        return tuple(
            NotedItem(
                text=item["text"],
                at=item["start"],
                owner=item.get("owner"),
                due=item.get("due_date") or item.get("due"),
            )
            for item in listed
        )

    return MeetingNotes(
        title=conversation.title or "Untitled meeting",
        held_at=conversation.started_at or conversation.created_at,
        summary=notes["summary"],
        decisions=items(notes["key_decisions"]),
        action_items=items(notes["action_items"]),
        open_questions=items(notes["open_questions"]),
    )
