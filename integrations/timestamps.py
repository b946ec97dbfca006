"""How a moment of a meeting is shown to people, wherever it is shown (CLI, email, prompts)."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """Seconds into a meeting as HH:MM:SS, whole seconds (a moment before the start as its
    start)."""
    hours, rest = divmod(max(int(seconds), 0), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
