"""A real Celery worker process on test providers.

    python -m tests.worker_main --transcriber stuck --state DIR -- -Q transcription ...

Everything but the providers is the production worker: `pipeline.app`, its tasks, the
settings from the environment. `--transcriber local` keeps the real local Whisper.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.app import app
from pipeline.config import Settings
from pipeline.runtime import Runtime
from pipeline.tasks import use_runtime
from tests.fakes import SYNTHESIZERS, TRANSCRIBERS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transcriber", default="instant", choices=[*TRANSCRIBERS, "local"])
    parser.add_argument("--synthesizer", default="counting", choices=list(SYNTHESIZERS))
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("celery", nargs=argparse.REMAINDER)
    options = parser.parse_args()

    runtime = Runtime(
        Settings(),
        # None: the configured ones.
        transcriber=None
        if options.transcriber == "local"
        else TRANSCRIBERS[options.transcriber](options.state),
        synthesizer=SYNTHESIZERS[options.synthesizer](options.state),
    )
    use_runtime(runtime)
    celery_args = [arg for arg in options.celery if arg != "--"]
    app.worker_main(["worker", *celery_args])


if __name__ == "__main__":
    main()
