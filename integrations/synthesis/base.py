"""What every synthesis provider takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Utterance:
    """One stretch of the transcript, as the synthesizer reads it."""

    text: str
    speaker: str | None = None
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True, slots=True)
class ActionItem:
    text: str
    owner: str | None = None
    due: str | None = None


@dataclass(frozen=True, slots=True)
class Notes:
    summary: str
    key_decisions: list[str] = field(default_factory=list)
    action_items: list[ActionItem] = field(default_factory=list)
    open_questions: list[str] = field(default_factory=list)
    key_topics: list[str] = field(default_factory=list)
    provider: str = "extractive"
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
