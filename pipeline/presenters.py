"""A stored conversation as the documents users read: JSON, Markdown, SRT, WebVTT."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from integrations.transcription.base import TranscribedSegment
from integrations.transcription.platform import write_srt, write_vtt
from repositories.models import Conversation, Synthesis, TranscriptSegment


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    """The lifecycle view of a conversation: state, timings, error."""
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "status": conversation.status.value,
        # Percent of the running stage, renewed with its worker's heartbeat.
        "progress": conversation.progress,
        "source_uri": _display_uri(conversation.source_uri),
        "platform": conversation.platform,
        "platform_meeting_id": conversation.platform_meeting_id,
        "error_message": conversation.error_message,
        "attempts": conversation.attempts,
        "language": conversation.language,
        "duration_seconds": conversation.duration_seconds,
        "word_count": conversation.word_count,
        "transcription_provider": conversation.transcription_provider,
        "transcription_model": conversation.transcription_model,
        "created_at": _iso(conversation.created_at),
        "transcribing_at": _iso(conversation.transcribing_at),
        "synthesizing_at": _iso(conversation.synthesizing_at),
        "completed_at": _iso(conversation.completed_at),
        "failed_at": _iso(conversation.failed_at),
        "transcription_seconds": _seconds_between(
            conversation.transcribing_at, conversation.synthesizing_at
        ),
        "synthesis_seconds": _seconds_between(
            conversation.synthesizing_at, conversation.completed_at
        ),
    }


def _display_uri(uri: str) -> str:
    # A download URL may carry credentials or a signed token: show where, never how.
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))
    return uri


def notes_document(synthesis: Synthesis | None) -> dict[str, Any] | None:
    if synthesis is None:
        return None
    return {
        "summary": synthesis.summary,
        "key_decisions": synthesis.key_decisions,
        "action_items": synthesis.action_items,
        "open_questions": synthesis.open_questions,
        "key_topics": synthesis.key_topics,
        "provider": synthesis.provider,
        "model": synthesis.model,
        "dropped_items": synthesis.dropped_items,
    }


def conversation_document(conversation: Conversation) -> dict[str, Any]:
    """Everything about a conversation; its participants, segments, notes must be loaded."""
    return {
        "conversation": conversation_summary(conversation),
        "participants": [
            {
                "name": participant.name,
                "email": participant.email,
                "organizer": participant.is_organizer,
                "spoken_seconds": participant.spoken_seconds,
                "word_count": participant.word_count,
            }
            for participant in conversation.participants
        ],
        "segments": [
            {
                "start": segment.start,
                "end": segment.end,
                "speaker": segment.speaker,
                "text": segment.text,
                "words": segment.words,
            }
            for segment in conversation.segments
        ],
        "notes": notes_document(conversation.synthesis),
    }


def notes_markdown(conversation: Conversation) -> str:
    notes = conversation.synthesis
    lines = [f"# {conversation.title or 'Untitled meeting'}", ""]
    if notes is None:
        lines.append(f"_No notes yet: the conversation is {conversation.status.value}._")
        return "\n".join(lines) + "\n"
    lines += ["## Summary", "", notes.summary or "_Nothing to summarise._", ""]
    lines += _bullets("Key decisions", [item["text"] for item in notes.key_decisions])
    lines += _bullets("Action items", [_action_item(item) for item in notes.action_items])
    lines += _bullets("Open questions", [item["text"] for item in notes.open_questions])
    lines += _bullets("Key topics", notes.key_topics)
    return "\n".join(lines)


def transcript_markdown(segments: Sequence[TranscriptSegment]) -> str:
    return "\n".join(
        f"- [{_clock(segment.start)}] {f'**{segment.speaker}:** ' if segment.speaker else ''}"
        f"{segment.text}"
        for segment in segments
    )


def show_markdown(conversation: Conversation, *, excerpt: int | None = None) -> str:
    """Notes and transcript; with `excerpt`, only that many segments of the transcript."""
    segments = conversation.segments
    shown = segments if excerpt is None else segments[:excerpt]
    transcript = transcript_markdown(shown) or "_No transcript yet._"
    if len(shown) < len(segments):
        transcript += (
            f"\n\n_{len(segments) - len(shown)} more segments: "
            f"`minutes show {conversation.id}` prints them all._"
        )
    return f"{notes_markdown(conversation)}\n## Transcript\n\n{transcript}\n"


def subtitles(segments: Sequence[TranscriptSegment], *, format: str) -> str:
    """The transcript as SRT or WebVTT, written so that `minutes process` reads it back the same."""
    transcribed = [
        TranscribedSegment(segment.start, segment.end, segment.text, segment.speaker)
        for segment in segments
    ]
    return write_srt(transcribed) if format == "srt" else write_vtt(transcribed)


def _action_item(item: dict[str, Any]) -> str:
    details = [
        part for part in (item.get("owner"), item.get("due") and f"due {item['due']}") if part
    ]
    return f"{item['text']} ({', '.join(details)})" if details else str(item["text"])


def _bullets(heading: str, items: Sequence[str]) -> list[str]:
    return [f"## {heading}", "", *([f"- {item}" for item in items] or ["_None._"]), ""]


def _clock(seconds: float) -> str:
    minutes, whole = divmod(int(seconds), 60)
    return f"{minutes:02d}:{whole:02d}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def first_line(error: BaseException | None) -> str:
    """An error as one line for a person: its message's first line, or its class's name."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
