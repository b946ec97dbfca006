"""A stored conversation as the documents users read: JSON, Markdown, SRT, WebVTT."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from integrations.timestamps import clock
from integrations.transcription.base import TranscribedSegment
from integrations.transcription.platform import write_srt, write_vtt
from pipeline.follow_up import FollowedAction
from repositories.action_items import FollowedItem
from repositories.models import Conversation, Synthesis, TranscriptSegment
from repositories.search import SearchHit


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
        # The providers a fallback passed over before the one above, in order, and why.
        "transcription_passed_over": conversation.transcription_passed_over or [],
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


def shown_value(value: object) -> str:
    """A summary's value as one line of `minutes status`: a list of passed-over providers
    as "soniox (why); openai (why)"."""
    if isinstance(value, list):
        return "; ".join(
            f"{item['provider']} ({item['reason']})" if isinstance(item, dict) else str(item)
            for item in value
        )
    return str(value)


def synthesis_summary(synthesis: Synthesis | None) -> dict[str, Any]:
    """Who wrote the notes and what it took: the lifecycle view's synthesis part."""
    return {
        "synthesis_provider": synthesis.provider if synthesis else None,
        "synthesis_model": synthesis.model if synthesis else None,
        "synthesis_prompt_tokens": synthesis.prompt_tokens if synthesis else None,
        "synthesis_completion_tokens": synthesis.completion_tokens if synthesis else None,
        # The provider's own time, where synthesis_seconds is the whole stage's.
        "synthesis_provider_seconds": synthesis.seconds if synthesis else None,
        "synthesis_dropped_items": synthesis.dropped_items if synthesis else None,
    }


def email_summary(synthesis: Synthesis | None) -> dict[str, Any]:
    """The notes' email delivery: the lifecycle view's email part."""
    return {
        "email_status": synthesis.email_status.value if synthesis else None,
        "email_recipients": synthesis.email_recipients if synthesis else None,
        "email_sent_at": _iso(synthesis.email_sent_at) if synthesis else None,
        "email_reason": synthesis.email_error if synthesis else None,
        "email_attempts": synthesis.email_attempts if synthesis else None,
    }


def _display_uri(uri: str) -> str:
    # A download URL may carry credentials or a signed token: show where, never how.
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))
    return uri


def notes_document(
    synthesis: Synthesis | None, segments: Sequence[TranscriptSegment]
) -> dict[str, Any] | None:
    """The notes; each item with its evidence, and when and by whom its quote was said."""
    if synthesis is None:
        return None
    by_position = {segment.position: segment for segment in segments}
    return {
        "summary": synthesis.summary,
        "key_decisions": [_placed(item, by_position) for item in synthesis.key_decisions],
        "action_items": [_placed(item, by_position) for item in synthesis.action_items],
        "open_questions": [_placed(item, by_position) for item in synthesis.open_questions],
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
        "notes": notes_document(conversation.synthesis, conversation.segments),
    }


def search_hit_document(hit: SearchHit) -> dict[str, Any]:
    """One search result: the meeting, where in it, who, and the text with the match marked."""
    return {
        "conversation_id": str(hit.conversation_id),
        "title": hit.title,
        "date": hit.held_at.isoformat(),
        "kind": hit.kind,
        "start": hit.start,
        "time": clock(hit.start) if hit.start is not None else None,
        "speaker": hit.speaker,
        "snippet": hit.snippet,
        "rank": round(hit.rank, 6),
    }


def search_results_text(hits: Sequence[SearchHit]) -> str:
    """The results best first, each under its meeting (named again when the meeting changes)."""
    lines: list[str] = []
    meeting = None
    for hit in hits:
        if hit.conversation_id != meeting:
            meeting = hit.conversation_id
            title = hit.title or "Untitled meeting"
            if lines:
                lines.append("")
            lines.append(f"{title}  {hit.held_at:%Y-%m-%d}  {meeting}")
        when = f"[{clock(hit.start)}] " if hit.start is not None else ""
        who = ", ".join(part for part in (hit.speaker, _KIND_LABELS.get(hit.kind)) if part)
        lines.append(f"  {when}{who}: {' '.join(hit.snippet.split())}")
    return "".join(f"{line}\n" for line in lines)


_KIND_LABELS = {
    "summary": "summary",
    "decision": "decision",
    "action_item": "action item",
    "question": "open question",
}


def status_document(conversation: Conversation) -> dict[str, Any]:
    """`minutes status --json`: the lifecycle view, who wrote the notes and their delivery
    (the notes loaded)."""
    return (
        conversation_summary(conversation)
        | synthesis_summary(conversation.synthesis)
        | email_summary(conversation.synthesis)
    )


def read_document(conversation: Conversation) -> dict[str, Any]:
    """`GET /conversations/{id}`: the status document with the participants, transcript and
    notes of `minutes show --format json`; its participants, segments, notes must be loaded."""
    shown = conversation_document(conversation)
    return status_document(conversation) | {
        part: shown[part] for part in ("participants", "segments", "notes")
    }


def notes_markdown(conversation: Conversation) -> str:
    notes = conversation.synthesis
    lines = [f"# {conversation.title or 'Untitled meeting'}", ""]
    if notes is None:
        lines.append(f"_No notes yet: the conversation is {conversation.status.value}._")
        return "\n".join(lines) + "\n"
    by_position = {segment.position: segment for segment in conversation.segments}
    lines += ["## Summary", "", notes.summary or "_Nothing to summarise._", ""]
    lines += _bullets(
        "Key decisions", [_sourced(item, item["text"], by_position) for item in notes.key_decisions]
    )
    lines += _bullets(
        "Action items",
        [_sourced(item, _action_item(item), by_position) for item in notes.action_items],
    )
    lines += _bullets(
        "Open questions",
        [_sourced(item, item["text"], by_position) for item in notes.open_questions],
    )
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


def _first_cited(
    item: Mapping[str, Any], segments: Mapping[int, TranscriptSegment]
) -> TranscriptSegment | None:
    # Notes stored before items carried evidence have none: they show without a time.
    evidence = item.get("evidence")
    if not evidence or not evidence["segment_ids"]:
        return None
    return segments.get(evidence["segment_ids"][0])


def _placed(item: Mapping[str, Any], segments: Mapping[int, TranscriptSegment]) -> dict[str, Any]:
    cited = _first_cited(item, segments)
    return {
        **item,
        "start": cited.start if cited else None,
        "speaker": cited.speaker if cited else None,
    }


def _sourced(item: Mapping[str, Any], line: str, segments: Mapping[int, TranscriptSegment]) -> str:
    """`line` after the time its evidence was said, and who said it what words."""
    cited = _first_cited(item, segments)
    if cited is None:
        return line
    quote = f'"{item["evidence"]["quote"]}"'
    said = f"{cited.speaker}: {quote}" if cited.speaker else quote
    return f"[{clock(cited.start)}] {line} — {said}"


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


def action_item_document(action: FollowedAction) -> dict[str, Any]:
    """An action item followed across meetings, as `minutes actions --json` prints it."""
    item = action.item
    return {
        "id": str(item.id),
        "text": item.text,
        "owner": item.owner_name,
        "owner_key": item.owner_key,
        "due": item.due,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "state": item.state.value,
        "age_days": action.age_days,
        "meeting": _meeting_of(item),
        "closed_in": str(item.closed_in_id) if item.closed_in_id else None,
        "closed_at": _iso(item.closed_at),
        "closing_quote": item.closing_quote,
        # Oldest first: the meetings that raised the task before this one repeated it.
        "carried_over_from": [
            {"id": str(earlier.id), "meeting": _meeting_of(earlier)} for earlier in action.earlier
        ],
        "carried_over_to": str(item.carried_over_to_id) if item.carried_over_to_id else None,
    }


def _meeting_of(item: FollowedItem) -> dict[str, Any]:
    return {
        "id": str(item.conversation_id),
        "title": item.meeting_title,
        "date": item.meeting_date.date().isoformat(),
    }
