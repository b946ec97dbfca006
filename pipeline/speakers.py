"""A meeting's speakers: who spoke how much, and renaming a voice everywhere it shows."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from integrations.people import Roster, normalize_email, normalize_name
from pipeline.follow_up import follow_up_action_items
from pipeline.intake import InvalidParticipantError, ParticipantInput
from repositories.database import UnitOfWork
from repositories.models import Conversation, ConversationStatus, Participant, TranscriptSegment

GRAPH_EVENT_SPEAKERS_RENAMED = "conversation.speakers_renamed"

# A sample line is cut to this many characters.
SAMPLE_CHARACTERS = 80


class SpeakerError(ValueError):
    """Bad input: an unknown conversation or speaker, a rename not written "Label=Name"."""


@dataclass(frozen=True, slots=True)
class Speaker:
    """One voice of a transcript, as its segments label it."""

    label: str
    email: str | None  # when the label is a participant with a known address
    seconds: float
    words: int
    segments: int
    sample: str  # the speaker's longest line, cut short


@dataclass(frozen=True, slots=True)
class Rename:
    """`label` is the person `name` (with `email`)."""

    label: str
    name: str
    email: str | None

    @classmethod
    def parse(cls, value: str) -> Rename:
        """'Speaker 2=Kenji Watanabe <kenji@example.net>' (the address optional)."""
        label, equals, person = value.partition("=")
        if not equals or not label.strip() or not person.strip():
            raise SpeakerError(f"--rename {value!r}: write it as 'Speaker 2=Name <email>'")
        try:
            parsed = ParticipantInput.parse(person)
        except InvalidParticipantError as error:
            raise SpeakerError(f"--rename {error}") from None
        return cls(label=" ".join(label.split()), name=parsed.name, email=parsed.email)


def list_speakers(conversation_id: uuid.UUID, *, uow: UnitOfWork) -> list[Speaker]:
    """The conversation's speakers, who spoke most first."""
    with uow:
        conversation = _conversation(uow, conversation_id)
        return _speakers(conversation)


def rename_speakers(
    conversation_id: uuid.UUID, renames: Sequence[Rename], *, uow: UnitOfWork
) -> list[Speaker]:
    """Each rename's voice becomes its person everywhere: the transcript's segments, the
    notes' action-item owners and the participants (a voice renamed to a participant
    merges into them, their speaking time added up). One transaction with the graph's
    outbox event, so a completed meeting's graph follows on the next sync; all renames or
    none. The speakers as they are after it."""
    with uow:
        conversation = _conversation(uow, conversation_id, for_update=True)
        labels = {normalize_name(s.speaker): s.speaker for s in conversation.segments if s.speaker}
        asked = [normalize_name(rename.label) for rename in renames]
        if len(set(asked)) < len(asked):
            raise SpeakerError("each speaker can be renamed once per command")
        for rename in renames:
            if normalize_name(rename.label) not in labels:
                known = ", ".join(sorted(labels.values())) or "none"
                raise SpeakerError(
                    f"conversation {conversation_id} has no speaker {rename.label!r} "
                    f"(its speakers: {known})"
                )
        participants = {normalize_name(p.name): p for p in conversation.participants}
        items = list(conversation.synthesis.action_items) if conversation.synthesis else []
        for asked_for in renames:
            old = labels.pop(normalize_name(asked_for.label))
            voice = participants.pop(normalize_name(old), None)
            person = _participant(participants, asked_for)
            # "Speaker 2=Kenji" with Kenji Watanabe invited is him, by his name as stored.
            rename = Rename(
                label=old,
                name=person.name if person else asked_for.name,
                email=normalize_email(asked_for.email) or (person.email if person else None),
            )
            uow.segments.rename_speaker(conversation_id, old, rename.name)
            labels[normalize_name(rename.name)] = rename.name
            items = [_owned(item, old, rename) for item in items]
            said = [seg for seg in conversation.segments if seg.speaker == old]
            spoken = (
                sum(seg.end - seg.start for seg in said),
                sum(len(seg.text.split()) for seg in said),
            )
            merged = _merge_participant(uow, voice, person, rename, conversation_id, spoken)
            participants[normalize_name(rename.name)] = merged
        if conversation.synthesis is not None:
            uow.syntheses.set_action_items(conversation_id, items)
        if conversation.status is ConversationStatus.COMPLETED:
            # Only completed meetings are in the graph: an event for another would take it out.
            uow.graph_outbox.add_event(
                conversation_id,
                GRAPH_EVENT_SPEAKERS_RENAMED,
                {
                    "conversation_id": str(conversation_id),
                    "renamed": {r.label: r.name for r in renames},
                },
            )
            # An owner renamed is someone else's item now: follow it up again.
            follow_up_action_items(conversation_id, uow=uow)
    with uow:
        return _speakers(_conversation(uow, conversation_id))


def _conversation(
    uow: UnitOfWork, conversation_id: uuid.UUID, *, for_update: bool = False
) -> Conversation:
    if for_update:
        # Locked first: a transcription or a notes run meanwhile waits, or wins.
        locked = uow.conversations.get_by_id(conversation_id, for_update=True)
        if locked is None:
            raise SpeakerError(f"no conversation has id {conversation_id}")
    conversation = uow.conversations.get_with_transcript(conversation_id)
    if conversation is None:
        raise SpeakerError(f"no conversation has id {conversation_id}")
    return conversation


def _speakers(conversation: Conversation) -> list[Speaker]:
    emails = {normalize_name(p.name): p.email for p in conversation.participants}
    by_label: dict[str, list[TranscriptSegment]] = defaultdict(list)
    for segment in conversation.segments:
        if segment.speaker:
            by_label[segment.speaker].append(segment)
    speakers = [
        Speaker(
            label=label,
            email=emails.get(normalize_name(label)),
            seconds=round(sum(s.end - s.start for s in segments), 1),
            words=sum(len(s.text.split()) for s in segments),
            segments=len(segments),
            sample=_cut(" ".join(max(segments, key=lambda s: len(s.text)).text.split())),
        )
        for label, segments in by_label.items()
    ]
    return sorted(speakers, key=lambda speaker: -speaker.seconds)


def _owned(item: object, old: str, rename: Rename) -> object:
    """An action item with the renamed voice as owner given the new name and address."""
    if not isinstance(item, dict) or not item.get("owner"):
        return item
    if normalize_name(str(item["owner"])) != normalize_name(old):
        return item
    return {**item, "owner": rename.name, "owner_email": rename.email}


def _participant(participants: dict[str, Participant], rename: Rename) -> Participant | None:
    """The participant a rename names: by address, else by name as `Roster` tells it."""
    email = normalize_email(rename.email)
    for participant in participants.values():
        if email and normalize_email(participant.email) == email:
            return participant
    found = Roster([p.name for p in participants.values()]).match(rename.name)
    return None if found is None else participants[normalize_name(found)]


def _merge_participant(
    uow: UnitOfWork,
    voice: Participant | None,
    person: Participant | None,
    rename: Rename,
    conversation_id: uuid.UUID,
    spoken: tuple[float, int],
) -> Participant:
    """The voice's participant row becomes the person, or merges into theirs: the row. An
    anonymous voice has no row (a "Speaker 2" is no participant): what it said, `spoken`
    (seconds, words), is counted from its segments."""
    if person is None and voice is None:
        return uow.participants.create(
            conversation_id=conversation_id,
            name=rename.name,
            email=rename.email,
            spoken_seconds=round(spoken[0], 3),
            word_count=spoken[1],
        )
    target = person or voice
    assert target is not None
    merged = voice if person is not None else None
    if voice is None:
        seconds = _sum(target.spoken_seconds, round(spoken[0], 3))
        words = _sum(target.word_count, spoken[1])
    else:
        seconds = _sum(target.spoken_seconds, merged.spoken_seconds if merged else None)
        words = _sum(target.word_count, merged.word_count if merged else None)
    if merged is not None:
        # The voice's row goes before the person's row may take a name it holds.
        uow.participants.delete(merged)
    uow.participants.set_person(
        target,
        name=rename.name,
        email=rename.email,
        spoken_seconds=seconds,
        word_count=None if words is None else int(words),
    )
    return target


def _sum(a: float | None, b: float | None) -> float | None:
    if a is None and b is None:
        return None
    return (a or 0) + (b or 0)


def _cut(text: str) -> str:
    return text if len(text) <= SAMPLE_CHARACTERS else text[: SAMPLE_CHARACTERS - 1] + "…"
