"""How a conversation enters the pipeline: one pending row with its participants."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from integrations.diarization.base import NamedTurn
from integrations.diarization.timeline import timeline_as_json
from integrations.people import clean_name, normalize_email, normalize_name
from repositories.database import UnitOfWork

_NAME_AND_EMAIL = re.compile(r"(?P<name>[^<>]*?)\s*(?:<(?P<email>[^<>]*)>)?")
_BARE_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+")


class InvalidParticipantError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ParticipantInput:
    name: str
    email: str | None = None
    organizer: bool = False

    @classmethod
    def parse(cls, value: str) -> ParticipantInput:
        """'Name <email>', 'Name' or 'email' (the name then is the address's local part)."""
        match = _NAME_AND_EMAIL.fullmatch(value.strip())
        if match is None:
            raise InvalidParticipantError(f"{value!r}: not 'Name <email>'")
        name, email = match["name"].strip().strip('"').strip(), match["email"]
        if email is None and _BARE_EMAIL.fullmatch(name):
            name, email = "", name
        if email is not None and not _BARE_EMAIL.fullmatch(email):
            raise InvalidParticipantError(f"{value!r}: {email!r} is not an email address")
        if not name and email:
            name = email.split("@", 1)[0]
        if not name:
            raise InvalidParticipantError(f"{value!r}: a participant needs a name or an email")
        return cls(name=clean_name(name), email=normalize_email(email))


def create_conversation(
    uow: UnitOfWork,
    *,
    source_uri: str,
    title: str | None = None,
    participants: Sequence[ParticipantInput] = (),
    speaker_timeline: Sequence[NamedTurn] = (),
    **details: Any,
) -> uuid.UUID:
    """Store a pending conversation; `details` are further columns (platform, times, ...).

    The people `speaker_timeline` names are participants too, after those given.
    """
    speakers = [
        ParticipantInput(clean_name(turn.name), normalize_email(turn.email))
        for turn in speaker_timeline
    ]
    with uow:
        conversation = uow.conversations.create(
            source_uri=source_uri,
            title=title,
            speaker_timeline=timeline_as_json(speaker_timeline) or None,
            **details,
        )
        seen: set[str] = set()
        for participant in [*participants, *speakers]:
            if normalize_name(participant.name) in seen:
                continue  # the same person named twice is one participant
            seen.add(normalize_name(participant.name))
            uow.participants.create(
                conversation_id=conversation.id,
                name=participant.name,
                email=participant.email,
                is_organizer=participant.organizer,
            )
        return conversation.id
