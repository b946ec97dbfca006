"""Notes from a language model through the whole pipeline: `minutes process` with
SYNTHESIS_PROVIDER=openai,extractive against llama.cpp's server (the `llm_server` fixture,
SmolLM2-135M-Instruct). A model that small writes poor notes; what holds for every model
is what is checked: who wrote them, what they cost, and that every item kept was said."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.llm_server import LlmServer
from tests.pipeline.test_cli import MINUTES, environment, run

VTT = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v Maria Rossi>Morning. We need to decide when we move to the new office.

00:00:04.000 --> 00:00:09.000
<v Tom Berg>The lease on this floor ends in June, so May works best.

00:00:09.000 --> 00:00:13.000
<v Maria Rossi>Then we move on the second weekend of May. Agreed?

00:00:13.000 --> 00:00:17.000
<v Tom Berg>Agreed. I'll book the movers by Friday.

00:00:17.000 --> 00:00:21.000
<v Maria Rossi>Who tells the landlord? We have not settled that.
"""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _said_where_cited(item: dict[str, Any], segments: list[dict[str, Any]]) -> bool:
    """The item's stored quote is, word for word, in the segments it cites."""
    evidence = item["evidence"]
    cited = " ".join(" ".join(_words(segments[i]["text"])) for i in evidence["segment_ids"])
    quote = " ".join(_words(evidence["quote"].rstrip("…")))
    return bool(quote) and quote in cited


class TestNotesFromALanguageModel:
    def test_process_stores_the_models_grounded_notes_and_what_they_cost(
        self, tmp_path: Path, llm_server: LlmServer
    ) -> None:
        transcript = tmp_path / "office-move.vtt"
        transcript.write_text(VTT, encoding="utf-8")
        database_url = f"sqlite:///{tmp_path / 'minutes.db'}"
        settings = {
            "SYNTHESIS_PROVIDER": "openai,extractive",
            "OPENAI_BASE_URL": llm_server.base_url,
            "SYNTHESIS_MODEL": llm_server.model,
        }

        # A small model on a busy CPU takes minutes: the CLI helper's 5 are too few.
        processed = subprocess.run(
            [*MINUTES, "process", str(transcript), "--title", "Office move", "--json"],
            capture_output=True,
            text=True,
            env=environment(database_url, settings),
            cwd=tmp_path,
            timeout=1200,
            check=False,
        )

        assert processed.returncode == 0, processed.stderr
        document = json.loads(processed.stdout)
        notes = document["notes"]
        assert (notes["provider"], notes["model"]) == ("openai", llm_server.model)
        items = [*notes["key_decisions"], *notes["action_items"], *notes["open_questions"]]
        assert all(_said_where_cited(item, document["segments"]) for item in items), items
        status = run("status", document["conversation"]["id"], "--json", database_url=database_url)
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert shown["synthesis_provider"] == "openai"
        assert shown["synthesis_model"] == llm_server.model
        assert shown["synthesis_prompt_tokens"] > 0
        assert shown["synthesis_completion_tokens"] > 0
        assert shown["synthesis_provider_seconds"] > 0
        assert shown["synthesis_dropped_items"] == notes["dropped_items"] >= 0
