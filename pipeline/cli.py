"""The `minutes` command line."""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import re
import socket
import string
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from importlib.resources import as_file, files
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import uvicorn
from kombu.exceptions import OperationalError as BrokerError
from pydantic import ValidationError
from redis.exceptions import RedisError
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DataError, OperationalError

from integrations.diarization.base import NamedTurn
from integrations.diarization.timeline import MalformedTimelineError, parse_timeline
from integrations.errors import IntegrationError
from integrations.graph.queries import (
    SAVED_QUERIES,
    SAVED_QUERIES_BY_NAME,
    QueryParameter,
    QueryParameterError,
    plain,
)
from integrations.graph.writer import GraphAddressError, GraphUnavailableError, GraphWriter
from integrations.people import normalize_email, normalize_name
from integrations.synthesis.base import SynthesisConfigurationError
from integrations.transcription.base import TranscriptionRefusedError
from integrations.transcription.languages import UnknownLanguageError, checked_language
from pipeline import delivery, graph, schema, search, stages
from pipeline.app import app as celery_app
from pipeline.config import get_settings
from pipeline.deletion import delete_conversation
from pipeline.follow_up import list_action_items
from pipeline.hooks import UploadEvent, UploadParticipant, enqueue_upload
from pipeline.http_hook import create_app, create_metrics_app, protocol_with_head_deadline
from pipeline.intake import InvalidParticipantError, ParticipantInput, create_conversation
from pipeline.presenters import (
    action_item_document,
    conversation_document,
    conversation_summary,
    first_line,
    search_hit_document,
    search_results_text,
    show_markdown,
    shown_value,
    status_document,
    subtitles,
)
from pipeline.progress import StageBars, progress_line
from pipeline.providers import UnknownProviderError, check_synthesis_order, synthesis_order
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from pipeline.speakers import Rename, SpeakerError, list_speakers, rename_speakers
from pipeline.tasks import start_graph_sync, start_pipeline, start_resynthesis
from repositories.models import Conversation, ConversationStatus, utc_now

app = typer.Typer(
    name="minutes",
    help="Turn meeting recordings into transcripts and notes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
hooks_app = typer.Typer(help="The HTTP upload hook.", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")
graph_app = typer.Typer(
    help="The Neo4j graph of meetings, people, topics, decisions and action items.",
    no_args_is_help=True,
)
app.add_typer(graph_app, name="graph")
metrics_app = typer.Typer(help="Prometheus metrics.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")

# A worker started without -Q serves every queue the pipeline uses.
ALL_QUEUES = "transcription,synthesis,graph,email,follow_up,celery"

# `list` folds titles and errors into lines at least this wide, its columns this far apart.
FOLDED_MIN_WIDTH = 8
COLUMN_GAP = 2

# The fewest first characters of an id taken for it, as git's shortest abbreviation.
ID_PREFIX_MIN_DIGITS = 4

# The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130

# After processing, the notes come first; the transcript is only tasted.
TRANSCRIPT_EXCERPT_SEGMENTS = 3

log = logging.getLogger(__name__)

stdout = Console()
stderr = Console(stderr=True)


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit status 2."""


class CommandFailedError(Exception):
    """A failure that is not the user's input: one line on stderr, exit status 1."""


class ShowFormat(StrEnum):
    MD = "md"
    JSON = "json"
    SRT = "srt"
    VTT = "vtt"


@app.callback()
def configure(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what each stage does, on stderr.")
    ] = False,
) -> None:
    # The CLI reports failures itself, in one line; the stage logs are for operators.
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def _runtime(*, extra_audio_roots: tuple[Path, ...] = ()) -> Runtime:
    try:
        runtime = Runtime(get_settings(), extra_audio_roots=extra_audio_roots)
    except (UnknownProviderError, SynthesisConfigurationError, TranscriptionRefusedError) as error:
        raise UsageError(str(error)) from None
    if schema.is_current(runtime.engine):
        return runtime
    if runtime.engine.dialect.name == "sqlite":
        # The embedded database builds itself on first use; a server database is the
        # operator's to migrate (`minutes db upgrade`), never behind their back.
        schema.upgrade(runtime.engine)
    else:
        raise UsageError("the database schema is not up to date: run `minutes db upgrade`")
    return runtime


def _conversation_id(runtime: Runtime, value: str) -> uuid.UUID:
    """A conversation id, or any start of one that no other id shares (as git takes a
    commit's), with or without its dashes."""
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    digits = value.replace("-", "").lower()
    if not ID_PREFIX_MIN_DIGITS <= len(digits) < 32 or not set(digits) <= set(string.hexdigits):
        raise UsageError(
            f"{value!r} is not a conversation id, nor its first {ID_PREFIX_MIN_DIGITS} or "
            "more characters"
        )
    with runtime.unit_of_work() as uow:
        matches = uow.conversations.ids_starting_with(digits, limit=3)
    if not matches:
        raise UsageError(f"no conversation has an id starting with {value}")
    if len(matches) > 1:
        named = ", ".join(str(match) for match in matches[:2])
        more = " and more" if len(matches) > 2 else ""
        raise UsageError(f"{value} is ambiguous: the ids of {named}{more} start with it")
    return matches[0]


def _load(
    runtime: Runtime, conversation_id: uuid.UUID, *, full: bool = False, notes: bool = False
) -> Conversation:
    """The conversation; `full`: with its people, segments and notes, `notes`: with its notes."""
    with runtime.unit_of_work() as uow:
        conversations = uow.conversations
        if full:
            conversation = conversations.get_with_transcript(conversation_id)
        elif notes:
            conversation = conversations.get_with_notes(conversation_id)
        else:
            conversation = conversations.get_by_id(conversation_id)
    if conversation is None:
        raise UsageError(f"no conversation has id {conversation_id}")
    return conversation


def _print_json(document: Any) -> None:
    # Plain print, not rich: JSON goes to pipes and must not be wrapped or coloured.
    print(json.dumps(document, indent=2, ensure_ascii=False))


def _process(
    path: Path,
    *,
    title: str | None,
    participants: list[ParticipantInput],
    as_json: bool,
    speaker_timeline: Sequence[NamedTurn] = (),
    language: str | None = None,
) -> None:
    runtime = _runtime(extra_audio_roots=(path.parent,))
    conversation_id = create_conversation(
        runtime.unit_of_work(),
        source_uri=str(path),
        title=title,
        participants=participants,
        speaker_timeline=speaker_timeline,
        requested_language=language,
    )
    try:
        # A bar per stage, on a terminal only: pipes get nothing extra.
        with StageBars(stderr, disabled=as_json or not stderr.is_terminal) as bars:
            run_in_process(conversation_id, runtime, on_stage=bars.stage, on_progress=bars.report)
    except BaseException as error:
        # Whatever stopped it (bad input, a bug, Ctrl-C), the user runs the command again:
        # no half-made conversation stays behind to be listed, retried or synced.
        _discard_unfinished(runtime, conversation_id)
        if isinstance(error, IntegrationError):
            # Bad input found while processing: not audio, silent, a malformed transcript.
            raise UsageError(str(error)) from None
        if isinstance(error, DataError):
            # What the file holds does not fit a column (a 300-character speaker name).
            raise UsageError(f"{path.name}: {first_line(error.orig)}") from None
        if isinstance(error, Exception) and not isinstance(error, OperationalError):
            log.info("processing failed conversation_id=%s", conversation_id, exc_info=True)
            raise CommandFailedError(first_line(error)) from None
        raise
    conversation = _load(runtime, conversation_id, full=True)
    if as_json:
        _print_json(conversation_document(conversation))
        return
    stdout.print(f"conversation {conversation.id} {conversation.status.value}", highlight=False)
    stdout.print(Markdown(show_markdown(conversation, excerpt=TRANSCRIPT_EXCERPT_SEGMENTS)))


def _discard_unfinished(runtime: Runtime, conversation_id: uuid.UUID) -> None:
    """Delete the conversation and its rows, unless it completed (a graph sync that failed
    after that leaves its event in the outbox, and the meeting is whole)."""
    with runtime.unit_of_work() as uow:
        conversation = uow.conversations.get_by_id(conversation_id, for_update=True)
        if conversation is not None and conversation.status is not ConversationStatus.COMPLETED:
            uow.conversations.delete(conversation)


ParticipantOption = Annotated[
    list[str] | None,
    typer.Option(
        "--participant",
        "-p",
        help='A participant, "Name <email>"; repeat for each one.',
        show_default=False,
    ),
]


LanguageOption = Annotated[
    str | None,
    typer.Option(
        "--language",
        "-l",
        help="The language spoken, an ISO 639-1 code (de, es, fr); unset: detected.",
        show_default=False,
    ),
]


@app.command()
def process(
    file: Annotated[
        Path,
        typer.Argument(help="An audio file, or a WebVTT, SRT, JSON or Zoom .txt transcript."),
    ],
    title: Annotated[str | None, typer.Option("--title", "-t", help="The meeting's title.")] = None,
    participant: ParticipantOption = None,
    speakers: Annotated[
        Path | None,
        typer.Option(
            "--speakers",
            metavar="TIMELINE",
            help='Who spoke when: JSON [{"name", "email", "start", "end"}] or an RTTM file.',
            show_default=False,
        ),
    ] = None,
    language: LanguageOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document, nothing else.")
    ] = False,
) -> None:
    """Run the whole pipeline in this process on FILE and print its notes."""
    if not file.exists():
        raise UsageError(f"{file}: no such file")
    if not file.is_file():
        raise UsageError(f"{file}: not a file")
    try:
        people = [ParticipantInput.parse(value) for value in participant or ()]
    except InvalidParticipantError as error:
        raise UsageError(f"--participant {error}") from None
    # What the transcriber warns of (speech in a language its model cannot write) decides
    # whether the notes are of any use: the user sees it, not only an operator.
    transcription_log = logging.getLogger("integrations.transcription")
    transcription_log.setLevel(min(logging.WARNING, logging.getLogger().level))
    _process(
        file.resolve(),
        title=title or file.stem,
        participants=people,
        as_json=as_json,
        speaker_timeline=_speaker_timeline(speakers) if speakers else (),
        language=_language(language) if language is not None else None,
    )


def _language(value: str) -> str:
    try:
        return checked_language(value)
    except UnknownLanguageError as error:
        raise UsageError(f"--language {value}: {error}") from None


def _speaker_timeline(path: Path) -> tuple[NamedTurn, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise UsageError(f"--speakers {path}: {reason}") from None
    try:
        return parse_timeline(text)
    except MalformedTimelineError as error:
        raise UsageError(f"--speakers {path}: {error}") from None


@app.command()
def demo() -> None:
    """Process the bundled sample meeting on the embedded defaults and print its notes."""
    sample = files("pipeline") / "sample"
    meeting = json.loads((sample / "standup.json").read_text(encoding="utf-8"))
    people = [
        ParticipantInput(name=p["name"], email=p.get("email"), organizer=p.get("organizer", False))
        for p in meeting["participants"]
    ]
    # The sample comes as a meeting platform hands it over: the recording and its
    # active-speaker events, which name the voices (the sample's synthetic voices sound too
    # alike for voice clustering to tell apart).
    said = json.loads((sample / "standup.timeline.json").read_text(encoding="utf-8"))
    timeline = [NamedTurn(turn["start"], turn["end"], turn["speaker"]) for turn in said]
    with as_file(sample / "standup.ogg") as audio:
        _process(
            audio,
            title=meeting["title"],
            participants=people,
            as_json=False,
            speaker_timeline=timeline,
        )


@app.command()
def status(
    conversation_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="Follow its progress until it is completed or failed (exit status 1 if failed).",
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between looks, with --watch.")
    ] = 1.0,
) -> None:
    """A conversation's lifecycle state, timings and error, and who wrote its notes."""
    runtime = _runtime()
    parsed = _conversation_id(runtime, conversation_id)
    if watch:
        _watch(runtime, parsed, interval)
    conversation = _load(runtime, parsed, notes=True)
    summary = status_document(conversation)
    if as_json:
        _print_json(summary)
        _end_watch(watch, conversation)
        return
    shown = {key: shown_value(value) for key, value in summary.items() if value not in (None, [])}
    table = Table(show_header=False, box=None, padding=(0, COLUMN_GAP, 0, 0))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # long values wrap, never cut
    for key, value in shown.items():
        table.add_row(key, escape(value))
    # The id whole, on one line, however narrow the terminal.
    _print_at_least(table, max(map(len, shown)) + len(shown["id"]) + 2 * COLUMN_GAP)
    _end_watch(watch, conversation)


def _end_watch(watch: bool, conversation: Conversation) -> None:
    # A watch ends as the meeting did, so `status --watch && show` reads only notes.
    if watch and conversation.status is ConversationStatus.FAILED:
        raise typer.Exit(1)


# The stage a conversation in each unfinished state is in, as the bars name it.
_WATCHED_STAGES = {
    ConversationStatus.PENDING: "queued",
    ConversationStatus.TRANSCRIBING: "transcribe",
    ConversationStatus.SYNTHESIZING: "synthesize",
}


def _watch(runtime: Runtime, conversation_id: uuid.UUID, interval: float) -> None:
    """Shows the stored progress (a worker's heartbeat renews it) until the conversation is
    completed or failed: bars on a terminal, a line per change on stderr otherwise."""
    terminal = stderr.is_terminal
    shown: tuple[str, int | None] | None = None
    with StageBars(stderr, disabled=not terminal) as bars:
        while True:
            conversation = _load(runtime, conversation_id)
            stage = _WATCHED_STAGES.get(conversation.status)
            if stage is None:
                if conversation.status is ConversationStatus.FAILED:
                    bars.abandon()
                return
            started = {
                ConversationStatus.TRANSCRIBING: conversation.transcribing_at,
                ConversationStatus.SYNTHESIZING: conversation.synthesizing_at,
            }.get(conversation.status) or conversation.created_at
            percent = None if stage == "queued" else conversation.progress
            if terminal:
                bars.stage(stage, started=started)
                bars.report(stage, percent)
            elif (stage, percent) != shown:
                shown = (stage, percent)
                elapsed = (utc_now() - started).total_seconds()
                print(progress_line(stage, percent, elapsed), file=sys.stderr, flush=True)
            time.sleep(interval)


@app.command(name="list")
def list_conversations(
    status: Annotated[
        ConversationStatus | None, typer.Option("--status", "-s", help="Only this state.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recent conversations, newest first."""
    with _runtime().unit_of_work() as uow:
        rows = (
            uow.conversations.list_by_status(status, limit=limit)
            if status
            else uow.conversations.list_recent(limit=limit)
        )
    summaries = [conversation_summary(row) for row in rows]
    if as_json:
        _print_json(summaries)
        return
    # Ids, states and times whole, never cut to fit (a cut id names nothing): titles and
    # errors fold beside them, and a terminal too narrow even for that wraps the lines.
    with_errors = any(summary["error_message"] for summary in summaries)
    whole = ["id", "status", "created (UTC)"]
    folded = ["title", "error"] if with_errors else ["title"]
    lines = [
        [
            summary["id"],
            summary["status"],
            f"{row.created_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            summary["title"] or "",
            summary["error_message"] or "",
        ][: len(whole) + len(folded)]
        for row, summary in zip(rows, summaries, strict=True)
    ]
    table = Table(box=None, padding=(0, COLUMN_GAP, 0, 0), header_style="bold")
    for header in whole:
        table.add_column(header, no_wrap=True)
    for header in folded:
        table.add_column(header, overflow="fold", min_width=FOLDED_MIN_WIDTH)
    for line in lines:
        table.add_row(*(escape(cell) for cell in line))
    needed = sum(
        max([len(header), *(len(line[index]) for line in lines)])
        for index, header in enumerate(whole)
    )
    needed += FOLDED_MIN_WIDTH * len(folded) + COLUMN_GAP * (len(whole) + len(folded))
    _print_at_least(table, needed)


def _print_at_least(table: Table, width: int) -> None:
    """Print `table` at least `width` columns wide: a terminal narrower than that wraps the
    lines instead of rich cutting cells."""
    # Console.print never renders wider than its console: a narrow one gets a wider twin.
    Console(width=max(stdout.width, width)).print(table)


@app.command()
def show(
    conversation_id: Annotated[str, typer.Argument(metavar="ID")],
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ShowFormat.MD
    ),
) -> None:
    """A conversation's transcript and notes."""
    runtime = _runtime()
    conversation = _load(runtime, _conversation_id(runtime, conversation_id), full=True)
    if format is ShowFormat.JSON:
        _print_json(conversation_document(conversation))
    elif format is ShowFormat.MD:
        print(show_markdown(conversation), end="")
    else:
        print(subtitles(conversation.segments, format=format.value), end="")


@app.command(name="search")
def search_command(
    query: Annotated[
        str, typer.Argument(help='Words to find; "a phrase", `or` between words, -excluded.')
    ],
    speaker: Annotated[
        str | None,
        typer.Option("--speaker", "-s", help="Only what this speaker said (any part of the name)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help='Only meetings held since then: "2026-11-01", "last week".'),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=search.MAX_RESULTS, help="At most this many results.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Full-text search over transcripts and notes, best matches first."""
    runtime = _runtime()
    try:
        hits = search.search(
            runtime.unit_of_work(), query, speaker=speaker, since=since, limit=limit
        )
    except search.SearchInputError as error:
        raise UsageError(str(error)) from None
    if as_json:
        _print_json([search_hit_document(hit) for hit in hits])
        return
    print(search_results_text(hits) if hits else "No matches.", end="" if hits else "\n")


@app.command()
def speakers(
    conversation_id: Annotated[str, typer.Argument(metavar="ID")],
    rename: Annotated[
        list[str] | None,
        typer.Option(
            "--rename",
            help='"Speaker 2=Name <email>": that voice is this person everywhere; repeatable.',
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The meeting's speakers with their talk time, words and a sample line; rename one."""
    runtime = _runtime()
    parsed = _conversation_id(runtime, conversation_id)
    try:
        renames = [Rename.parse(value) for value in rename or ()]
        found = (
            rename_speakers(parsed, renames, uow=runtime.unit_of_work())
            if renames
            else list_speakers(parsed, uow=runtime.unit_of_work())
        )
    except SpeakerError as error:
        raise UsageError(str(error)) from None
    if as_json:
        _print_json([asdict(speaker) for speaker in found])
        return
    table = Table(box=None, padding=(0, COLUMN_GAP, 0, 0), header_style="bold")
    for header in ("speaker", "talk time", "words", "sample"):
        table.add_column(header, overflow="fold")
    for speaker in found:
        minutes, seconds = divmod(round(speaker.seconds), 60)
        who = f"{speaker.label} <{speaker.email}>" if speaker.email else speaker.label
        table.add_row(
            escape(who), f"{minutes}:{seconds:02d}", str(speaker.words), escape(speaker.sample)
        )
    stdout.print(table)


@app.command()
def enqueue(
    uri: Annotated[str, typer.Argument(help="A recording or transcript: a path or a URL.")],
    title: Annotated[str | None, typer.Option(help="The meeting's title.")] = None,
    participant: Annotated[
        list[str] | None,
        typer.Option(help='"Name <email>" of someone in the meeting; repeat for each.'),
    ] = None,
    platform: Annotated[str | None, typer.Option(help="The meeting platform, e.g. zoom.")] = None,
    meeting_id: Annotated[
        str | None, typer.Option(help="The platform's id of the meeting (with --platform).")
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="The same key twice gives the same conversation, once.")
    ] = None,
    language: LanguageOption = None,
) -> None:
    """Store a pending conversation, queue it for the workers, print its id."""
    try:
        people = [ParticipantInput.parse(value) for value in participant or ()]
    except InvalidParticipantError as error:
        raise UsageError(f"--participant {error}") from None
    local = Path(uri).expanduser()
    try:
        event = UploadEvent(
            # A local path is stored absolute: workers run elsewhere, in other folders.
            source_uri=str(local.resolve()) if local.exists() else uri,
            title=title,
            platform=platform,
            platform_meeting_id=meeting_id,
            idempotency_key=idempotency_key,
            language=_language(language) if language is not None else None,
            participants=[
                UploadParticipant(name=p.name, email=p.email, organizer=p.organizer) for p in people
            ],
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(f"{where}: {first['msg']}" if where else first["msg"]) from None
    try:
        conversation_id = enqueue_upload(event, runtime=_runtime())
    except IntegrationError as error:
        raise UsageError(str(error)) from None
    print(conversation_id)


@app.command()
def retry(conversation_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Send a failed conversation through the pipeline again (queued for the workers)."""
    runtime = _runtime()
    parsed = _conversation_id(runtime, conversation_id)
    conversation = _load(runtime, parsed)
    if not stages.reset_for_retry(parsed, uow=runtime.unit_of_work(), leases=runtime.leases):
        raise UsageError(
            f"conversation {parsed} is {conversation.status.value}; only failed ones are retried"
        )
    try:
        start_pipeline(parsed, runtime)
    except IntegrationError as error:
        raise UsageError(f"conversation {parsed} failed again: {error}") from None
    conversation = _load(runtime, parsed)
    stdout.print(f"conversation {parsed} {conversation.status.value}", highlight=False)


@app.command()
def resynthesize(
    conversation_id: Annotated[str, typer.Argument(metavar="ID")],
    provider: Annotated[
        str | None,
        typer.Option(
            help="Providers to try, in order, for this run only (as SYNTHESIS_PROVIDER: "
            "openai,extractive)."
        ),
    ] = None,
) -> None:
    """Write new notes for a completed meeting from its stored transcript."""
    runtime = _runtime()
    parsed = _conversation_id(runtime, conversation_id)
    order = None if provider is None else synthesis_order(provider)
    try:
        # Checked here, so a queued run cannot fail on a name the worker does not know.
        if order is not None:
            check_synthesis_order(order, setting="--provider")
    except UnknownProviderError as error:
        raise UsageError(str(error)) from None
    conversation = _load(runtime, parsed)
    if conversation.status is not ConversationStatus.COMPLETED:
        raise UsageError(
            f"conversation {parsed} is {conversation.status.value}; "
            "only completed ones are resynthesized"
        )
    try:
        outcome = start_resynthesis(parsed, runtime, order)
    except IntegrationError as error:
        raise CommandFailedError(f"conversation {parsed}: {first_line(error)}") from None
    except (BrokerError, RedisError) as error:
        raise CommandFailedError(f"cannot queue: {type(error).__name__}") from None
    if outcome is None:
        stdout.print(f"conversation {parsed} queued for new notes", highlight=False)
    elif outcome is stages.StageOutcome.DONE:
        with runtime.unit_of_work() as uow:
            synthesis = uow.syntheses.get_by_conversation(parsed)
        assert synthesis is not None  # stored by the stage that said DONE
        stdout.print(
            f"conversation {parsed} has new notes by {synthesis.provider}", highlight=False
        )
    else:
        # Deleted, or sent through the pipeline again, while the notes were written.
        raise UsageError(
            f"conversation {parsed} is no longer completed: its notes stay as they were"
        )


@app.command()
def email(
    conversation_id: Annotated[str, typer.Argument(metavar="ID")],
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            metavar="ADDR",
            help="Send to this address instead of the participants and EMAIL_TO; repeat for each.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Send (or send again) a completed meeting's notes by email, now, from this process."""
    runtime = _runtime()
    parsed = _conversation_id(runtime, conversation_id)
    recipients = [_email_address(value) for value in to or ()]
    conversation = _load(runtime, parsed, notes=True)
    if conversation.status is not ConversationStatus.COMPLETED or conversation.synthesis is None:
        raise UsageError(
            f"conversation {parsed} is {conversation.status.value}; "
            "only completed meetings' notes are sent"
        )
    uow = runtime.unit_of_work()
    if not delivery.request_notes_email(
        parsed, uow=uow, mailer=runtime.mailer, recipients=recipients
    ):
        raise CommandFailedError(f"conversation {parsed}: its notes are being sent right now")
    # The last attempt (no retry comes in-process): every SMTP error is recorded, not raised.
    sent = delivery.send_notes(parsed, uow=uow, mailer=runtime.mailer, leases=runtime.leases)
    if sent.outcome in (delivery.DeliveryOutcome.SENT, delivery.DeliveryOutcome.SKIPPED):
        said = (
            f"notes sent to {', '.join(sent.recipients)}"
            if sent.outcome is delivery.DeliveryOutcome.SENT
            else "not sent"
        )
        because = f" ({sent.reason})" if sent.reason else ""
        stdout.print(f"conversation {parsed}: {said}{because}", highlight=False, soft_wrap=True)
    elif sent.outcome is delivery.DeliveryOutcome.FAILED:
        raise CommandFailedError(f"conversation {parsed}: sending failed: {sent.reason}")
    else:
        # Deleted, or taken by a worker, between the request and the send.
        raise CommandFailedError(f"conversation {parsed}: not sent ({sent.outcome.value})")


def _email_address(value: str) -> str:
    try:
        address = ParticipantInput.parse(value).email
    except InvalidParticipantError as error:
        raise UsageError(f"--to {error}") from None
    if address is None:
        raise UsageError(f"--to {value!r} is not an email address")
    return address


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    context: typer.Context,
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Comma-separated queues to consume.")
    ] = ALL_QUEUES,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="Worker processes.")
    ] = None,
    beat: Annotated[
        bool, typer.Option("--beat", "-B", help="Also run the recovery sweep's schedule.")
    ] = False,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
) -> None:
    """Run a Celery worker (`celery -A pipeline.app worker`); extra options go to Celery."""
    if celery_app.conf.task_always_eager:
        raise UsageError("a worker needs a broker: set CELERY_BROKER_URL")
    argv = ["worker", "--queues", queues, "--loglevel", loglevel, "--events"]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    if beat:
        argv.append("--beat")
    celery_app.worker_main([*argv, *context.args])


@hooks_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP upload hook (POST /hooks/upload, GET /conversations/{id}, /healthz,
    /metrics)."""
    listener = _listening_socket(host, port)
    runtime = _runtime()
    secret = runtime.settings.hook_secret
    if secret is None or not secret.get_secret_value():
        stderr.print("warning: HOOK_SECRET is not set: every upload is refused", style="yellow")
    _serve(
        create_app(runtime),
        listener,
        http=protocol_with_head_deadline(runtime.settings.hook_read_timeout_seconds),
    )


@app.command()
def actions(
    owner: Annotated[
        str | None,
        typer.Option(help="Only this person's: an email, a name, or a first name."),
    ] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only open items (a repeated one once, its latest).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the items as JSON.")] = False,
) -> None:
    """Action items across meetings: owner, due date, state, age, what carries them over."""
    if owner is not None and not owner.strip():
        raise UsageError("--owner must not be empty")
    who = None if owner is None else (normalize_email(owner) or normalize_name(owner))
    found = list_action_items(
        uow=_runtime().unit_of_work(), owner=who, open_only=open_only, now=datetime.now(UTC)
    )
    documents = [action_item_document(action) for action in found]
    if as_json:
        _print_json(documents)
        return
    headers = ("meeting", "owner", "action item", "due", "state", "age", "carried over")
    lines = []
    for document in documents:
        meeting = document["meeting"]
        earlier = [
            f"from {e['meeting']['title'] or e['meeting']['id']} ({e['meeting']['date']})"
            for e in document["carried_over_from"]
        ]
        if document["carried_over_to"]:
            earlier.append("repeated later")
        lines.append(
            (
                f"{meeting['title'] or meeting['id']} ({meeting['date']})",
                document["owner"] or "",
                document["text"],
                document["due_date"] or document["due"] or "",
                document["state"],
                f"{document['age_days']} d",
                "; ".join(earlier),
            )
        )
    table = Table(*headers)
    for line in lines:
        table.add_row(*(escape(cell) for cell in line))
    widths = [
        max([len(header), *(len(line[i]) for line in lines)]) for i, header in enumerate(headers)
    ]
    _print_at_least(table, sum(widths) + 3 * len(headers) + 1)


@app.command()
def delete(
    conversation_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
) -> None:
    """Remove a meeting everywhere: its rows, search entries, downloaded copy, graph nodes."""
    runtime = _runtime()
    parsed = _conversation_id(runtime, conversation_id)
    conversation = _load(runtime, parsed)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"deleting conversation {parsed} needs --yes (no terminal to ask)")
        title = f" ({conversation.title})" if conversation.title else ""
        if not typer.confirm(f"Delete conversation {parsed}{title} everywhere?"):
            raise UsageError("not deleted")
    deleted = delete_conversation(parsed, uow=runtime.unit_of_work(), sources=runtime.sources)
    if deleted is None:  # deleted by someone else since it was looked up
        raise UsageError(f"no conversation has id {parsed}")
    start_graph_sync(runtime)
    stdout.print(f"deleted conversation {parsed}", highlight=False)


@metrics_app.command("serve")
def metrics_serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 9464,
) -> None:
    """Serve GET /metrics for Prometheus: this machine's workers (PROMETHEUS_MULTIPROC_DIR),
    the graph outbox backlog and the queues' depth."""
    listener = _listening_socket(host, port)
    _serve(create_metrics_app(_runtime()), listener)


# A host name as RFC 1123 spells one; its last label is never all digits, so a mistyped IP
# address ("127.0.0.256") is refused here instead of being looked up as a name.
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*(?=[a-z0-9-]*[a-z-])"
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?",
    re.IGNORECASE,
)


def _serve(app: Any, listener: socket.socket, **options: Any) -> None:
    """Runs `app` on uvicorn, on the socket `_listening_socket` bound."""
    # A server's own log lines (uploads refused, accepted) are for its operator: on by default.
    logging.getLogger("pipeline").setLevel(min(logging.INFO, logging.getLogger().level))
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    stderr.print(f"serving on http://{shown}:{port} (Ctrl-C to stop)", highlight=False)
    # No access log: the app logs each request on one line of its own, with why it was refused.
    config = uvicorn.Config(app, log_level="info", access_log=False, **options)
    uvicorn.Server(config).run(sockets=[listener])


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host` and `port`, for a server to take over. Bound before anything
    else starts, so an address that cannot be listened on is refused in one line, as bad
    input."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise UsageError(f"--host {host!r}: not an IP address or a host name") from None
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise UsageError(f"--host {host}: {error.strerror}") from None
    listener = socket.socket(family, kind, protocol)
    # As uvicorn binds: a port whose last connections linger in TIME_WAIT is free to take.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"--port {port}: already in use on {host}") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"--host {host}: not an address of this machine") from None
        raise UsageError(f"cannot listen on {host} port {port}: {error.strerror}") from None
    return listener


def _graph(runtime: Runtime) -> GraphWriter:
    try:
        writer = runtime.graph
    except GraphAddressError as error:
        raise UsageError(str(error)) from None
    if writer is None:
        raise UsageError("the graph is not configured: set NEO4J_URI (e.g. bolt://127.0.0.1:7687)")
    return writer


@graph_app.command("sync")
def graph_sync() -> None:
    """Push the outbox's pending meetings to Neo4j."""
    runtime = _runtime()
    report = graph.sync_graph(
        uow=runtime.unit_of_work(),
        writer=_graph(runtime),
        batch_size=runtime.settings.graph_batch_size,
        # Asked for by hand: pushed now, after the batch another sync may be pushing.
        wait_for_other_syncs=True,
    )
    print(f"synced {report.meetings} meetings ({report.events} events), {report.pending} pending")
    if report.error is not None:
        _fail(f"{report.failed} events left pending: {report.error}", status=1)


@graph_app.command("rebuild")
def graph_rebuild() -> None:
    """Recreate the whole graph from PostgreSQL (deletes minutes' nodes first)."""
    runtime = _runtime()
    writer = _graph(runtime)
    with Progress(
        TextColumn("rebuilding the graph"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        disable=not stderr.is_terminal,
    ) as progress:
        bar = progress.add_task("meetings", total=None)
        meetings = graph.rebuild_graph(
            uow=runtime.unit_of_work(),
            writer=writer,
            batch_size=runtime.settings.graph_batch_size,
            on_progress=lambda done, total: progress.update(bar, completed=done, total=total),
        )
    print(f"rebuilt the graph from {meetings} meetings")


@graph_app.command("queries")
def graph_queries() -> None:
    """The saved queries, with their parameters."""
    table = Table("name", "parameters", "description")
    for query in SAVED_QUERIES:
        parameters = ", ".join(_describe(parameter) for parameter in query.parameters)
        table.add_row(query.name, escape(parameters), escape(query.description))
    stdout.print(table)


def _describe(parameter: QueryParameter) -> str:
    if parameter.required:
        return f"{parameter.name} (required)"
    if parameter.default is None:
        return parameter.name
    return f"{parameter.name}={parameter.default}"


@graph_app.command("query")
def graph_query(
    name: Annotated[str, typer.Argument(help="A saved query (see `minutes graph queries`).")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A parameter, key=value; repeat for each one."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Run a saved query and print its rows."""
    query = SAVED_QUERIES_BY_NAME.get(name)
    if query is None:
        raise UsageError(
            f"no saved query is named {name!r}; known: {', '.join(SAVED_QUERIES_BY_NAME)}"
        )
    given: dict[str, str] = {}
    for item in param or ():
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise UsageError(f"--param {item!r}: write it as key=value")
        given[key.strip()] = value
    try:
        parameters = query.bind(given)
    except QueryParameterError as error:
        raise UsageError(str(error)) from None
    columns, rows = _graph(_runtime()).read(query.cypher, parameters)
    if as_json:
        _print_json([{key: plain(value) for key, value in row.items()} for row in rows])
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*(_cell(plain(row[column])) for column in columns))
    stdout.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@db_app.command()
def upgrade() -> None:
    """Migrate the database to the newest schema (alembic upgrade head)."""
    runtime = Runtime(get_settings())
    schema.upgrade(runtime.engine)
    print("database schema is up to date")


def _fail(message: str, status: int = 2) -> NoReturn:
    stderr.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(status)


def _asked_for_nothing(error: typer.TyperException) -> bool:
    # Typer has no public name for "no arguments given, so here is the help".
    return type(error).__name__ == "NoArgsIsHelpError"


def main() -> None:
    try:
        # Outside standalone mode typer hands exit statuses back instead of exiting: a
        # command's `typer.Exit(status)`, and 130 for Ctrl-C.
        status = app(standalone_mode=False)
    except UsageError as error:
        _fail(str(error))
    except CommandFailedError as error:
        _fail(str(error), status=1)
    except typer.Abort:
        _fail("interrupted", status=INTERRUPTED)
    except typer.TyperException as error:
        if _asked_for_nothing(error):
            print(error.format_message())  # the help text, as `minutes --help` prints it
            sys.exit(0)
        _fail(" ".join(error.format_message().split()))
    except OperationalError as error:
        # Not the user's input but the environment: still one line, and no URL in it.
        _fail(f"cannot use the database: {first_line(error.orig)}", status=1)
    except GraphUnavailableError as error:
        _fail(str(error), status=1)
    if status == INTERRUPTED:
        _fail("interrupted", status=INTERRUPTED)
    sys.exit(status if isinstance(status, int) else 0)
