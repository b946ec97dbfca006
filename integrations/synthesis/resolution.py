"""Action items' owners and due dates resolved against the meeting, whoever wrote the notes.

A provider writes the owner and the due phrase as it read them ("Carol", "I", "Friday");
this makes the owner one of the meeting's people where it is one (their name as invited,
and their address), and the phrase a date counted from the meeting's start.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Sequence

from integrations.people import Roster, clean_name, normalize_email, normalize_name
from integrations.synthesis.base import ActionItem, Attendee, MeetingContext, Notes, Utterance
from integrations.synthesis.due_dates import resolve_due_date

# An owner written as the person speaking: "I'll send it" noted with owner "I".
_FIRST_PERSON_OWNERS = frozenset(
    {"i", "me", "myself", "self", "speaker", "the speaker", "current speaker"}
)
# Owners that are no one person: everyone present, or someone not named. Such items have
# no owner (None): the notes do not say who, so no one is made to look responsible.
_NO_SINGLE_OWNER = frozenset(
    {"we", "us", "all", "all of us", "both", "both of us", "everyone", "everybody"}
    | {"team", "the team", "whole team", "the whole team", "group", "the group"}
    | {"you", "you all", "y'all", "you guys", "someone", "somebody", "anyone", "anybody"}
    | {"tbd", "tba", "unassigned", "unknown", "none", "nobody", "n/a"}
)
# A commitment in the first person: "I'll send the deck", "let me check", "I can do it";
# not "send me the deck" (asked of someone else) nor "I think Carol should".
_FIRST_PERSON = re.compile(
    r"\b(?:I(?:'ll| will| shall| can| need to| have to|'m going to| am going to|'m gonna"
    r"| take| volunteer)|let me)\b",
    re.IGNORECASE,
)


def resolve_owners_and_dates(
    notes: Notes, utterances: Sequence[Utterance], meeting: MeetingContext
) -> Notes:
    """`notes` with each action item's owner resolved to a participant (name and email)
    where it is one, and its due phrase to a date.

    - An owner that names a participant ("Carol", "carol singh", "Ms. Singh") becomes that
      participant's name and address; a first name two participants share, nobody.
    - A role ("Project Manager") or a name nobody at the meeting has stays as said.
    - A first-person owner ("I", "me"), or none with a first-person quote ("I'll send
      it"), is whoever said it: the speaker of the item's first cited segment.
    - "we", "everyone", "team" (nobody in particular): no owner.
    - `due` stays as said; `due_date` is it counted from `meeting.started_at`, or None
      when it names no date or the meeting's start is unknown.
    """
    resolver = _Owners(meeting.attendees, utterances)
    items = []
    for item in notes.action_items:
        owner, owner_email = resolver.owner(item)
        due_date = (
            resolve_due_date(item.due, base=meeting.started_at, language=meeting.language)
            if item.due and meeting.started_at is not None
            else None
        )
        items.append(
            dataclasses.replace(item, owner=owner, owner_email=owner_email, due_date=due_date)
        )
    return dataclasses.replace(notes, action_items=items)


class _Owners:
    def __init__(self, attendees: Sequence[Attendee], utterances: Sequence[Utterance]) -> None:
        self._roster = Roster(attendee.name for attendee in attendees)
        addresses: dict[str, set[str]] = defaultdict(set)
        self._by_email: dict[str, str] = {}
        for attendee in attendees:
            if email := normalize_email(attendee.email):
                addresses[normalize_name(attendee.name)].add(email)
                self._by_email.setdefault(email, clean_name(attendee.name))
        # Two participants of one name and two addresses: the name tells neither.
        self._email = {name: found.pop() for name, found in addresses.items() if len(found) == 1}
        self._speakers = {u.segment_id: u.speaker for u in utterances}

    def owner(self, item: ActionItem) -> tuple[str | None, str | None]:
        """The item's owner and their address."""
        said = clean_name(item.owner or "")
        key = normalize_name(said)
        if key in _NO_SINGLE_OWNER:
            return self._person(None)
        if key in _FIRST_PERSON_OWNERS or (not key and self._in_first_person(item)):
            return self._person(self._speaker(item))
        # The address the provider gave, when it is a participant's, tells who.
        email = normalize_email(item.owner_email)
        if email is not None and email in self._by_email:
            return self._by_email[email], email
        return self._person(said or None)

    def _person(self, said: str | None) -> tuple[str | None, str | None]:
        if said is None:
            return None, None
        name = self._roster.match(said, fuzzy=True)
        if name is None:
            # A role or someone not at the meeting: as said, and no address of anyone's.
            return clean_name(said), None
        return name, self._email.get(normalize_name(name))

    def _in_first_person(self, item: ActionItem) -> bool:
        return item.evidence is not None and bool(_FIRST_PERSON.search(item.evidence.quote))

    def _speaker(self, item: ActionItem) -> str | None:
        if item.evidence is None or not item.evidence.segment_ids:
            return None
        return self._speakers.get(item.evidence.segment_ids[0])
