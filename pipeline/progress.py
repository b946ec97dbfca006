"""Progress on the terminal: a bar per stage, with its percent, elapsed and remaining time.

The remaining time is worked out from the stage's start and its percent done (elapsed
times what is left over what is done), so it means the same whether the percent comes from
the stage running in this process (`minutes process`) or from the progress a worker stored
(`minutes status --watch`).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
)
from rich.text import Text


def remaining_seconds(elapsed: float, percent: int | None) -> float | None:
    """The time left at this pace; None before any progress is known."""
    if not percent or percent <= 0:
        return None
    return max(0.0, elapsed * (100 - min(percent, 100)) / percent)


def clock(seconds: float | None) -> str:
    """`h:mm:ss` as rich shows times; `-:--:--` for one not known yet."""
    if seconds is None:
        return "-:--:--"
    return str(timedelta(seconds=round(seconds)))


def progress_line(stage: str, percent: int | None, elapsed: float) -> str:
    """The plain-text form, for output that is not a terminal."""
    shown = "?" if percent is None else str(percent)
    return (
        f"{stage} {shown}% elapsed {clock(elapsed)} "
        f"remaining {clock(remaining_seconds(elapsed, percent))}"
    )


class _Elapsed(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"elapsed {clock(_elapsed(task))}", style="progress.elapsed")


class _Remaining(ProgressColumn):
    def render(self, task: Task) -> Text:
        percent = None if task.fields.get("unknown") else int(task.percentage)
        left = 0.0 if task.finished else remaining_seconds(_elapsed(task), percent)
        return Text(f"remaining {clock(left)}", style="progress.remaining")


def _elapsed(task: Task) -> float:
    ended: float | None = task.fields.get("ended")
    started: float = task.fields["started"]
    return (ended if ended is not None else time.time()) - started


class StageBars:
    """One bar per stage, the running one last: the stages before it stay on screen done.

    `disabled` shows nothing (output that is not a terminal).
    """

    def __init__(self, console: Console, *, disabled: bool = False) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TaskProgressColumn(),
            _Elapsed(),
            _Remaining(),
            console=console,
            disable=disabled,
        )
        self._bars: dict[str, TaskID] = {}
        self._running: str | None = None

    def __enter__(self) -> StageBars:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._finish_running()
        self._progress.stop()

    def stage(self, name: str, *, started: datetime | None = None) -> None:
        """`name` runs now (or since `started`): the one before it is done."""
        if name == self._running:
            return
        self._finish_running()
        self._running = name
        self._bars[name] = self._progress.add_task(
            name,
            total=100,
            started=started.timestamp() if started else time.time(),
            ended=None,
            unknown=True,
        )

    def report(self, name: str, percent: int | None) -> None:
        """The stage `name` is `percent` done (None: not known)."""
        self.stage(name)
        if percent is not None:
            self._progress.update(self._bars[name], completed=percent, unknown=False)

    def abandon(self) -> None:
        """The running stage ends here, unfinished (it failed): its bar stays as it is."""
        self._running = None

    def _finish_running(self) -> None:
        if self._running is not None:
            self._progress.update(
                self._bars[self._running], completed=100, unknown=False, ended=time.time()
            )
