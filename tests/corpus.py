"""Where the shared test data lives: ../shared/corpus beside the repository, never copied."""

import json
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def script(meeting: Path) -> str:
    """What is said in a recording of a scripted meeting (scripted/ or voices/): its turns'
    text, in order."""
    turns = json.loads((CORPUS / "scripted" / f"{meeting.stem}.json").read_text())["turns"]
    return " ".join(turn["text"] for turn in turns)
