"""Where the shared test data lives: ../shared/corpus beside the repository, never copied."""

from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
