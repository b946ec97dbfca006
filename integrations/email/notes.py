"""A meeting's notes as one email: a text part and an HTML part, from Jinja2 templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from integrations.timestamps import clock


@dataclass(frozen=True, slots=True)
class NotedItem:
    text: str
    # Seconds into the meeting its evidence was said; None when it carries no evidence.
    at: float | None = None
    owner: str | None = None
    due: str | None = None


@dataclass(frozen=True, slots=True)
class MeetingNotes:
    title: str
    held_at: datetime
    summary: str
    decisions: tuple[NotedItem, ...] = ()
    action_items: tuple[NotedItem, ...] = ()
    open_questions: tuple[NotedItem, ...] = ()


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return clock(seconds)


_templates = Environment(
    loader=PackageLoader("integrations.email", "templates"),
    # The notes quote what people said: in HTML every value is escaped.
    autoescape=select_autoescape(["html.j2"], default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_templates.filters["clock"] = _clock


def compose(
    notes: MeetingNotes, *, sender: str, recipients: list[str], message_id: str
) -> EmailMessage:
    """The notes' message. `message_id` is the caller's: the same delivery sent again
    carries the same one, so mail programs show it once."""
    context = {"notes": notes, "date": notes.held_at.strftime("%Y-%m-%d %H:%M %Z").strip()}
    message = EmailMessage()
    # One line: a header may hold no line break (a title could).
    title = " ".join(notes.title.split())
    message["Subject"] = f"Notes: {title} ({notes.held_at:%Y-%m-%d})"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(notes.held_at)
    message["Message-ID"] = message_id
    message.set_content(_templates.get_template("notes.txt.j2").render(context))
    message.add_alternative(
        _templates.get_template("notes.html.j2").render(context), subtype="html"
    )
    return message
