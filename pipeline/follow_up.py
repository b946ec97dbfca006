"""Action items followed across meetings: the step that runs when a meeting's notes are in.

The meeting's items become rows with stable ids; each open item of an earlier meeting owed
by one of this meeting's people is then carried over (this meeting's notes repeat it, the
same owner) or closed (someone here reports it done). The meetings whose items changed get
a graph outbox event in the same transaction.

A completion only marks its meeting due (`follow_up_due`, in the completing statement):
`follow_up_completed` takes the due meetings in batches, earliest held first, one batch at
a time, so completions never queue behind one another's follow-up. New notes and renamed
speakers follow up inside their own transaction instead, the states changing with the
notes that changed them.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from integrations.action_items import Said, repeats, reports_done
from pipeline.graph import meeting_graph
from repositories.action_items import FollowedItem, NewActionItem
from repositories.conversations import CompletedConversation
from repositories.database import UnitOfWork
from repositories.models import ActionItemState, utc_now

log = logging.getLogger(__name__)

GRAPH_EVENT_FOLLOWED_UP = "action_items.followed_up"


@dataclass
class FollowUp:
    carried_over: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # earlier, later
    closed: list[uuid.UUID] = field(default_factory=list)


# Meetings followed up per transaction: a backlog (after an outage) commits as it goes.
FOLLOW_UP_BATCH = 100


def follow_up_completed(*, uow: UnitOfWork, batch: int = FOLLOW_UP_BATCH) -> int:
    """Follow up every completed meeting marked due, earliest held first, a batch per
    transaction; how many were. Another run meanwhile waits its turn, then finds what is
    left."""
    followed = 0
    while True:
        with uow:
            uow.action_items.lock_for_follow_up()
            due = uow.conversations.due_for_follow_up(limit=batch)
            # The batch's notes in one read; followed up one by one, in `due`'s order.
            found = {
                meeting.id: meeting
                for meeting in uow.conversations.list_completed_with_notes(due, limit=batch)
            }
            for conversation_id in due:
                if (meeting := found.get(conversation_id)) is not None:
                    _follow_up(meeting, uow, announced=False)
            uow.conversations.followed_up(due)
        followed += len(due)
        if len(due) < batch:
            return followed


def follow_up_is_due(*, uow: UnitOfWork) -> bool:
    """Whether a completed meeting awaits its follow-up."""
    with uow:
        return uow.conversations.any_due_for_follow_up()


def follow_up_action_items(
    conversation_id: uuid.UUID, *, uow: UnitOfWork, announced: bool = True
) -> FollowUp:
    """Derive a completed meeting's items and follow up the earlier ones, in `uow`'s open
    transaction. Running it again for the same notes gives the same rows.

    `announced`: the caller writes the meeting's own graph outbox event; otherwise one is
    written when its items now carry earlier ones over (links the graph has not seen)."""
    found = uow.conversations.list_completed_with_notes([conversation_id], limit=1)
    if not found:
        return FollowUp()
    uow.action_items.lock_for_follow_up()
    return _follow_up(found[0], uow, announced=announced)


def _follow_up(completed: CompletedConversation, uow: UnitOfWork, *, announced: bool) -> FollowUp:
    conversation_id = completed.id
    # Done as of the meeting that said so, however often its notes are written.
    said_at = completed.started_at or completed.completed_at or utc_now()
    meeting = meeting_graph(completed)
    items = [
        NewActionItem(
            id=uuid.UUID(task.id),
            position=position,
            key=task.key,
            text=task.text,
            owner_name=task.owner.name if task.owner else None,
            owner_key=task.owner.key if task.owner else None,
            owner_name_key=task.owner.name_key if task.owner else None,
            due=task.due,
            due_date=date.fromisoformat(task.due_date) if task.due_date else None,
        )
        for position, task in enumerate(meeting.action_items)
    ]
    changed = uow.action_items.reopen_closed_in(conversation_id)
    uow.action_items.replace_for_conversation(conversation_id, items)
    people = meeting.people()
    earlier = uow.action_items.open_before(
        conversation_id,
        owner_keys={person.key for person in people},
        name_keys={person.name_key for person in people},
    )
    report = FollowUp()
    unmatched = _carry_over(uow, earlier, items, report)
    # Read only when an earlier item is left to hear reported done: it is the whole transcript.
    said = (
        [Said(s.text, s.speaker) for s in uow.segments.list_spoken(conversation_id)]
        if unmatched
        else []
    )
    for item in unmatched:
        if (done := reports_done(item.text, item.owner_name, said)) is not None:
            changed |= uow.action_items.close(
                item.id, closed_in=conversation_id, at=said_at, quote=done.text
            )
            report.closed.append(item.id)
    changed |= {item.conversation_id for item in earlier if item not in unmatched}
    if announced or not report.carried_over:
        changed.discard(conversation_id)
    else:
        changed.add(conversation_id)
    for affected in sorted(changed):
        uow.graph_outbox.add_event(
            affected,
            GRAPH_EVENT_FOLLOWED_UP,
            {"conversation_id": str(affected), "by": str(conversation_id)},
        )
    log.info(
        "followed up action items conversation_id=%s carried_over=%d closed=%d",
        conversation_id,
        len(report.carried_over),
        len(report.closed),
    )
    return report


def _carry_over(
    uow: UnitOfWork, earlier: list[FollowedItem], items: list[NewActionItem], report: FollowUp
) -> list[FollowedItem]:
    """Links each of this meeting's items to the earlier item it repeats, the most similar
    of the same owner's; the earlier items none repeats."""
    unmatched = list(earlier)
    for item in items:
        if item.owner_key is None:
            continue
        scored = [
            (repeats(candidate.text, item.text), candidate)
            for candidate in unmatched
            if candidate.owner_key == item.owner_key
            or candidate.owner_name_key == item.owner_name_key
        ]
        score, best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
        if best is not None and score > 0:
            uow.action_items.carry_over(best.id, item.id)
            report.carried_over.append((best.id, item.id))
            unmatched.remove(best)
    return unmatched


@dataclass(frozen=True, slots=True)
class FollowedAction:
    """One item as `minutes actions` shows it: the item, and the earlier items it carries
    over, oldest first."""

    item: FollowedItem
    earlier: tuple[FollowedItem, ...]
    age_days: int  # since the task was first raised; until it was done, for a done one


def list_action_items(
    *, uow: UnitOfWork, owner: str | None = None, open_only: bool = False, now: datetime
) -> list[FollowedAction]:
    """Action items across meetings, oldest meeting first: `owner` a person key (a
    lower-cased email) or a normalized name (a first name finds the full one); `open_only`
    keeps the open ones no later item carries over."""
    with uow:
        items = uow.action_items.list_followed(owner=owner)
    by_id = {item.id: item for item in items}
    found = []
    for item in items:
        if open_only and (item.state is not ActionItemState.OPEN or item.carried_over_to_id):
            continue
        earlier: list[FollowedItem] = []
        cursor = item
        while cursor.carried_over_from_id in by_id and len(earlier) < len(by_id):
            cursor = by_id[cursor.carried_over_from_id]
            earlier.insert(0, cursor)
        first = earlier[0] if earlier else item
        until = item.closed_at if item.state is ActionItemState.DONE and item.closed_at else now
        found.append(
            FollowedAction(item, tuple(earlier), max(0, (until - first.meeting_date).days))
        )
    return found
