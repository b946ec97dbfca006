"""celeryconfig.py, loaded by Celery itself the way `celery -A` workers load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LOAD = """
import json
from celery import Celery
from pipeline.app import app
app.loader.import_default_modules()  # what a worker does at start-up
conf = app.conf
print(json.dumps({
    "broker_url": conf.broker_url,
    "eager": conf.task_always_eager,
    "acks_late": conf.task_acks_late,
    "reject_on_worker_lost": conf.task_reject_on_worker_lost,
    "prefetch": conf.worker_prefetch_multiplier,
    "events": conf.worker_send_task_events,
    "routes": conf.task_routes,
    "time_limit": conf.task_time_limit,
    "soft_time_limit": conf.task_soft_time_limit,
    "visibility_timeout": conf.broker_transport_options["visibility_timeout"],
    "sweep": {
        name: [entry["task"], entry["schedule"]] for name, entry in conf.beat_schedule.items()
    },
    "tasks": sorted(name for name in app.tasks if not name.startswith("celery.")),
    "serializers": [conf.task_serializer, conf.accept_content],
}))
"""


def _load(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    result = subprocess.run(
        [sys.executable, "-c", LOAD],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


class TestCeleryConfig:
    def test_without_a_broker_stages_run_eagerly(self) -> None:
        assert _load()["eager"] is True

    def test_a_broker_from_the_environment_with_reliable_delivery(self) -> None:
        conf = _load(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
        assert conf["broker_url"] == "redis://127.0.0.1:6379/0"
        assert conf["eager"] is False
        assert conf["acks_late"] is True
        assert conf["reject_on_worker_lost"] is True
        assert conf["prefetch"] == 1
        assert conf["events"] is True
        assert conf["routes"] == {
            "pipeline.transcribe": {"queue": "transcription"},
            "pipeline.transcribe_chunk": {"queue": "transcription"},
            "pipeline.synthesize": {"queue": "synthesis"},
            "pipeline.complete": {"queue": "synthesis"},
            "pipeline.resynthesize": {"queue": "synthesis"},
            "graph.sync": {"queue": "graph"},
            "pipeline.recover_stuck": {"queue": "celery"},
            "pipeline.follow_up": {"queue": "follow_up"},
            "notify.email": {"queue": "email"},
        }
        assert conf["serializers"] == ["json", ["json"]]

    def test_the_app_registers_every_stage_task_under_its_stable_name(self) -> None:
        conf = _load(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
        assert conf["tasks"] == [
            "graph.sync",
            "notify.email",
            "pipeline.complete",
            "pipeline.follow_up",
            "pipeline.recover_stuck",
            "pipeline.resynthesize",
            "pipeline.synthesize",
            "pipeline.transcribe",
            "pipeline.transcribe_chunk",
        ]

    def test_no_stage_outlives_the_visibility_timeout(self) -> None:
        # Redis hands an unacknowledged message out again after the visibility timeout:
        # were it shorter than a stage may run, every long stage would be delivered twice.
        conf = _load(CELERY_BROKER_URL="redis://127.0.0.1:6379/0", TASK_TIME_LIMIT_SECONDS="600")
        assert conf["time_limit"] == 600
        assert isinstance(conf["soft_time_limit"], int)
        assert conf["soft_time_limit"] < 600
        assert isinstance(conf["visibility_timeout"], int)
        assert conf["visibility_timeout"] > 600

    def test_beat_runs_the_recovery_sweep_and_the_graph_sync_on_their_intervals(self) -> None:
        conf = _load(RECOVERY_INTERVAL_SECONDS="15", GRAPH_SYNC_INTERVAL_SECONDS="45")
        assert conf["sweep"] == {
            "recover-stuck-conversations": ["pipeline.recover_stuck", 15.0],
            "sync-graph": ["graph.sync", 45.0],
        }
