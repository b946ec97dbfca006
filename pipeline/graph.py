"""Mirroring completed conversations into the Neo4j graph: the outbox sync and the rebuild.

PostgreSQL is the source of truth. An outbox event only says "this conversation changed";
the sync reads the conversation as it is now and writes that, so events can be repeated,
merged or replayed without harm.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import count
from typing import Any, TypedDict

from integrations.action_items import item_id, item_key
from integrations.graph.model import Attendance, Meeting, Person, Statement, Task
from integrations.graph.writer import GraphUnavailableError, GraphWriteError, GraphWriter
from integrations.people import Roster, clean_name, is_anonymous, normalize_email
from repositories.action_items import FollowedItem
from repositories.conversations import CompletedConversation
from repositories.database import UnitOfWork
from repositories.models import Conversation, ConversationStatus, GraphOutboxEvent, utc_now

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200


@dataclass
class SyncReport:
    events: int = 0  # outbox events marked done
    meetings: int = 0  # meetings written (or removed) in Neo4j
    failed: int = 0  # events left pending with an error
    pending: int = 0  # events still pending when the sync ended
    error: str | None = None
    # Another sync held the lock, so this one stopped: that one pushes what is pending.
    yielded: bool = False


def meeting_graph(conversation: CompletedConversation) -> Meeting:
    """What the graph holds of a completed conversation."""
    attendees = [
        Attendance(
            person=Person(p.name, p.email),
            organizer=p.is_organizer,
            spoken_seconds=p.spoken_seconds,
            spoken_words=p.word_count,
        )
        for p in conversation.participants
        # A voice not named yet ("Speaker 2") is nobody the graph can know: every
        # meeting has a "Speaker 2", and they are different people.
        if not is_anonymous(p.name)
    ]
    people: dict[str, Person] = {}
    for attendance in attendees:
        people.setdefault(clean_name(attendance.person.name), attendance.person)
    roster = Roster(people)
    action_items = []
    keys: set[str] = set()
    for item in conversation.action_items:
        if text := _text(item):
            owner = _owner(item, roster, people)
            key = _unique(item_key(owner.key if owner else None, text), keys)
            action_items.append(
                Task(
                    id=str(item_id(conversation.id, key)),
                    key=key,
                    text=text,
                    owner=owner,
                    due=item.get("due") if isinstance(item, dict) else None,
                    due_date=item.get("due_date") if isinstance(item, dict) else None,
                    **_said(item, conversation.cited_starts),
                )
            )
    return Meeting(
        id=str(conversation.id),
        title=conversation.title,
        completed_at=conversation.completed_at,
        started_at=conversation.started_at,
        duration_seconds=conversation.duration_seconds,
        platform=conversation.platform,
        language=conversation.language,
        summary=conversation.summary,
        attendees=attendees,
        topics=[text for text in map(_text, conversation.key_topics) if text],
        decisions=_statements(conversation, "decision", conversation.key_decisions),
        questions=_statements(conversation, "question", conversation.open_questions),
        action_items=action_items,
    )


def _unique(key: str, taken: set[str]) -> str:
    """`key`, or when the meeting has the same task twice, `key#1`, `key#2`..."""
    unique = next(c for n in count() if (c := f"{key}#{n}" if n else key) not in taken)
    taken.add(unique)
    return unique


def with_follow_up(meetings: Sequence[Meeting], uow: UnitOfWork) -> list[Meeting]:
    """`meetings` with their action items' states and carried-over links, in `uow`'s open
    transaction. Items no follow-up has seen yet (notes from before it) stay open."""
    followed = {
        str(item.id): item
        for item in uow.action_items.list_followed(
            conversation_ids=[uuid.UUID(meeting.id) for meeting in meetings]
        )
    }
    return [
        replace(
            meeting,
            action_items=[_followed(task, followed.get(task.id)) for task in meeting.action_items],
        )
        for meeting in meetings
    ]


def _followed(task: Task, item: FollowedItem | None) -> Task:
    if item is None:
        return task
    return replace(
        task,
        state=item.state.value,
        closed_in=str(item.closed_in_id) if item.closed_in_id else None,
        closed_at=item.closed_at,
        carried_over_from=str(item.carried_over_from_id) if item.carried_over_from_id else None,
        carried_over_to=str(item.carried_over_to_id) if item.carried_over_to_id else None,
    )


def _item_id(conversation_id: uuid.UUID, kind: str, position: int) -> str:
    # Stable: a re-sync or a rebuild gives every item the id it had.
    return str(uuid.uuid5(conversation_id, f"{kind}:{position}"))


def _text(item: Any) -> str:
    # Providers store items as text, or as objects with a "text" field.
    text = item.get("text") if isinstance(item, dict) else item
    return " ".join(str(text).split()) if text else ""


def _statements(
    conversation: CompletedConversation, kind: str, items: Sequence[Any]
) -> list[Statement]:
    return [
        Statement(
            id=_item_id(conversation.id, kind, position),
            text=text,
            **_said(item, conversation.cited_starts),
        )
        for position, item in enumerate(items)
        if (text := _text(item))
    ]


class _Said(TypedDict):
    quote: str | None
    start: float | None


def _said(item: Any, cited_starts: Mapping[int, float]) -> _Said:
    """An item's quote, and when its first cited segment starts (notes from before
    evidence have neither)."""
    evidence = item.get("evidence") if isinstance(item, dict) else None
    if not evidence or not evidence["segment_ids"]:
        return {"quote": None, "start": None}
    return {"quote": evidence["quote"], "start": cited_starts.get(evidence["segment_ids"][0])}


def _owner(item: Any, roster: Roster, people: dict[str, Person]) -> Person | None:
    """The participant an action item names as owner: the one with the address the notes
    give, else the one `roster` tells by name; someone who did not attend is known by that
    address, else by name only."""
    name = clean_name(str(item.get("owner") or "")) if isinstance(item, dict) else ""
    if not name or is_anonymous(name):
        return None
    email = normalize_email(item.get("owner_email"))
    attendee = next((p for p in people.values() if p.email and p.key == email), None)
    if attendee is None and email is None and (found := roster.match(name)) is not None:
        attendee = people[found]
    return attendee or Person(name, email)


def sync_graph(
    *,
    uow: UnitOfWork,
    writer: GraphWriter,
    batch_size: int = DEFAULT_BATCH_SIZE,
    wait_for_other_syncs: bool = False,
) -> SyncReport:
    """Push pending outbox events to Neo4j, a batch per transaction, until none is left.

    One sync at a time pushes: each batch takes the sync lock first, and a sync that finds
    it taken stops at once (or, `wait_for_other_syncs`, waits its turn), so a completion's
    sync never waits on Neo4j while another one already does. Each batch's events stay
    locked in PostgreSQL while Neo4j is written, and are marked done in the same
    transaction. A failure (Neo4j unreachable is found at once, not retried) leaves the
    events pending with the error and one more attempt counted, and ends this sync: the next
    one (periodic, or after the next completion) tries again.
    """
    report = SyncReport()
    while report.error is None:
        with uow:
            if not uow.graph_outbox.lock_for_sync(wait=wait_for_other_syncs):
                # The holder loops until the outbox is empty, so it takes these events too
                # (one committed after its last look waits for the periodic sync).
                report.yielded = True
                break
            events = uow.graph_outbox.claim_pending(limit=batch_size)
            if not events:
                break
            _push(uow, writer, events, report)
    with uow:
        report.pending = uow.graph_outbox.count_pending()
    return report


def _push(
    uow: UnitOfWork, writer: GraphWriter, events: Sequence[GraphOutboxEvent], report: SyncReport
) -> None:
    ids = list(dict.fromkeys(map(_meeting_of, events)))
    conversations = uow.conversations.list_completed_with_notes(ids, limit=len(ids))
    meetings = with_follow_up([meeting_graph(conversation) for conversation in conversations], uow)
    # No longer completed (sent through the pipeline again): out of the graph until it is.
    gone = sorted(set(map(str, ids)) - {meeting.id for meeting in meetings})
    failures: dict[str, str] = {}
    try:
        # An unreachable Neo4j fails here in a moment, where a write would keep retrying
        # for up to GRAPH_RETRY_SECONDS, holding a worker (and these events) all along.
        writer.check_reachable()
        writer.delete(gone)
        writer.write(meetings)
    except GraphUnavailableError as error:
        failures = {str(conversation_id): str(error) for conversation_id in ids}
    except GraphWriteError:
        # Something in one meeting is refused: find which, and let the others through. The
        # removals go again too: if they were what failed, nothing of them was done.
        failures = _one_by_one(
            [(meeting_id, partial(writer.delete, [meeting_id])) for meeting_id in gone]
            + [(meeting.id, partial(writer.write, [meeting])) for meeting in meetings]
        )
    done = [event.id for event in events if str(_meeting_of(event)) not in failures]
    uow.graph_outbox.mark_processed(done, at=utc_now())
    report.events += len(done)
    report.meetings += len(ids) - len(failures)
    for conversation_id, message in failures.items():
        failed = [event.id for event in events if str(_meeting_of(event)) == conversation_id]
        uow.graph_outbox.record_failure(failed, error=message)
        report.failed += len(failed)
        report.error = message
        log.warning("graph sync failed conversation_id=%s error=%s", conversation_id, message)


def _meeting_of(event: GraphOutboxEvent) -> uuid.UUID:
    # A deleted conversation's event has no conversation left to point at: it names it.
    if event.conversation_id is not None:
        return event.conversation_id
    return uuid.UUID(event.payload["conversation_id"])


def _one_by_one(changes: Sequence[tuple[str, Callable[[], None]]]) -> dict[str, str]:
    """Applies each meeting's change (a write or a removal) on its own; the error of each
    meeting whose change failed, by meeting id."""
    failures: dict[str, str] = {}
    for position, (meeting_id, change) in enumerate(changes):
        try:
            change()
        except GraphWriteError as error:
            failures[meeting_id] = str(error)
        except GraphUnavailableError as error:
            failures.update({rest: str(error) for rest, _ in changes[position:]})
            break
    return failures


def rebuild_graph(
    *,
    uow: UnitOfWork,
    writer: GraphWriter,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Recreate the whole graph from PostgreSQL: wipe ours, constraints, batched load.

    Returns how many meetings were written. The events pending when it began are covered by
    what it reads afterwards, and are marked done; later ones are left for the sync.
    """
    with uow:
        covered = uow.graph_outbox.pending_ids()
        total = uow.conversations.count(Conversation.status == ConversationStatus.COMPLETED)
    writer.wipe()
    writer.ensure_schema()
    on_progress(0, total)
    done = 0
    after: uuid.UUID | None = None
    while True:
        with uow:
            page = uow.conversations.list_completed_with_notes(after=after, limit=batch_size)
            meetings = with_follow_up([meeting_graph(conversation) for conversation in page], uow)
        if not page:
            break
        # Into an empty graph: nothing of these meetings to replace.
        writer.write(meetings, replace=False)
        after = page[-1].id
        done += len(page)
        on_progress(done, max(total, done))
    with uow:
        for start in range(0, len(covered), 1000):
            uow.graph_outbox.mark_processed(covered[start : start + 1000], at=utc_now())
    log.info("rebuilt the graph meetings=%d", done)
    return done
