"""Progress as the terminal shows it: `minutes process` on a terminal (a pseudo-terminal
here), `minutes status --watch` following what a worker stores."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

from pipeline.progress import progress_line, remaining_seconds
from repositories.models import ConversationStatus, utc_now
from tests.audio import silence
from tests.workers import MINUTES, Cluster, broker_url, cluster

__all__ = ["broker_url", "cluster"]  # the fixtures this module uses

# A bar's line: its stage, percent done, elapsed and remaining time (h:mm:ss).
BAR = re.compile(
    r"(?P<stage>[a-z-]+) +[━╸╺ ]+ +(?P<percent>\d+)% "
    r"elapsed (?P<elapsed>\d+:\d\d:\d\d) remaining (?P<remaining>\d+:\d\d:\d\d|-:--:--)"
)
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """Runs `command` with its stderr on a pseudo-terminal: its exit status, and each
    distinct line the terminal was shown (rich redraws a bar in place)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env={**env, "COLUMNS": "120", "TERM": "xterm"},
        cwd=cwd,
    )
    os.close(terminal)
    shown = bytearray()
    while True:
        readable, _, _ = select.select([controller], [], [], 1.0)
        if not readable:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    status = process.wait(timeout=60)
    text = ESCAPE.sub("", shown.decode(errors="replace"))
    lines = [line.strip() for line in re.split(r"[\r\n]", text) if line.strip()]
    return status, list(dict.fromkeys(lines))


class TestProcessProgress:
    def test_a_recording_shows_each_stage_with_percent_elapsed_and_remaining_time(
        self, corpus: Path, tmp_path: Path
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "NEO4J_"))}
        env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'minutes.db'}", HF_HUB_OFFLINE="1")
        recording = corpus / "scripted" / "incident-review.wav"

        status, lines = on_a_terminal([*MINUTES, "process", str(recording)], env, tmp_path)

        assert status == 0, lines
        bars = [match for line in lines if (match := BAR.fullmatch(line))]
        assert bars, lines
        # While it transcribed: part done, and the time left at that pace.
        under_way = [
            bar
            for bar in bars
            if bar["stage"] == "transcribe"
            and 0 < int(bar["percent"]) < 100
            and bar["remaining"] != "-:--:--"
        ]
        assert under_way, lines
        # Then every stage ran to its end.
        done = {bar["stage"] for bar in bars if bar["percent"] == "100"}
        assert {"transcribe", "synthesize", "follow-up"} <= done


class TestWatch:
    def test_watching_follows_the_stored_progress_until_the_meeting_completes(
        self, cluster: Cluster
    ) -> None:
        cluster.worker(transcriber="halfway")
        recording = silence(cluster.audio_root / f"{uuid.uuid4().hex}.wav", seconds=1.0)
        with cluster.uow as uow:
            conversation_id = uow.conversations.create(
                source_uri=str(recording),
                title="Release planning",
                lease_expires_at=utc_now() + timedelta(minutes=30),
            ).id
        cluster.send("pipeline.transcribe", conversation_id)

        watch = subprocess.Popen(
            [*MINUTES, "status", str(conversation_id), "--watch", "--interval", "0.2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cluster.env(),
        )
        assert watch.stderr is not None
        # Not a terminal: a line each time the stage or its percent changes. The transcriber
        # stays half done until the watch has shown it.
        lines, halfway = [], None
        for line in watch.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith("transcribe 50% "):
                halfway = lines[-1]
                break
        (cluster.state / "release").touch()
        stdout, rest = watch.communicate(timeout=120)
        lines += rest.splitlines()

        assert watch.returncode == 0, lines
        assert halfway is not None, lines
        assert re.fullmatch(
            r"transcribe 50% elapsed \d+:\d\d:\d\d remaining \d+:\d\d:\d\d", halfway
        )
        assert re.search(r"^status\s+completed\s*$", stdout, re.MULTILINE), stdout
        with cluster.uow as uow:
            conversation = uow.conversations.get_by_id(conversation_id)
        assert conversation is not None
        assert conversation.status is ConversationStatus.COMPLETED


class TestRemainingTime:
    def test_the_time_left_at_the_pace_so_far(self) -> None:
        assert remaining_seconds(30.0, 60) == 20.0
        assert remaining_seconds(30.0, 100) == 0.0
        assert remaining_seconds(30.0, 0) is None
        assert remaining_seconds(30.0, None) is None
        assert progress_line("transcribe", 25, 75.0) == (
            "transcribe 25% elapsed 0:01:15 remaining 0:03:45"
        )
        assert progress_line("queued", None, 3.0) == "queued ?% elapsed 0:00:03 remaining -:--:--"
