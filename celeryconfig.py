"""Celery's settings, from our one Settings object (`celery -A pipeline.app` loads this)."""

from __future__ import annotations

from pipeline.config import get_settings

_settings = get_settings()

broker_url = _settings.celery_broker_url.get_secret_value() if _settings.celery_broker_url else None
result_backend = (
    _settings.celery_result_backend.get_secret_value() if _settings.celery_result_backend else None
)
# No broker configured: stages run in the caller's process, as the embedded defaults promise.
task_always_eager = broker_url is None
task_eager_propagates = True
# pipeline.metrics: its signal handlers time every task and count its failures.
imports = ["pipeline.tasks", "pipeline.metrics"]

# A stage is acknowledged only once it has finished, and handed back if its worker dies,
# so a crash means a redelivery (stages are idempotent, claims are leased), never a loss.
task_acks_late = True
task_reject_on_worker_lost = True
# Transcriptions run for minutes: a worker takes one at a time, not a prefetched batch.
worker_prefetch_multiplier = 1
task_ignore_result = True
task_time_limit = _settings.task_time_limit_seconds
task_soft_time_limit = task_time_limit - min(5 * 60, task_time_limit // 10)
broker_transport_options = {
    # Redis hands an unacknowledged message out again after this long. Longer than any
    # stage may run (its hard time limit), so a healthy long stage is not delivered twice;
    # a second delivery anyway finds the stage leased and does nothing.
    "visibility_timeout": task_time_limit + 10 * 60,
}

# Flower watches the workers through these events.
worker_send_task_events = True
task_send_sent_event = True

task_default_queue = "celery"
task_routes = {
    "pipeline.transcribe": {"queue": "transcription"},
    "pipeline.transcribe_chunk": {"queue": "transcription"},
    "pipeline.synthesize": {"queue": "synthesis"},
    "pipeline.complete": {"queue": "synthesis"},
    "pipeline.resynthesize": {"queue": "synthesis"},
    "pipeline.recover_stuck": {"queue": "celery"},
    # Its own queue: the follow-up of action items is never on a meeting's hot path.
    "pipeline.follow_up": {"queue": "follow_up"},
    "graph.sync": {"queue": "graph"},
    # Its own queue: a mail server that is slow or away never holds up the stages.
    "notify.email": {"queue": "email"},
}
beat_schedule = {
    "recover-stuck-conversations": {
        "task": "pipeline.recover_stuck",
        "schedule": _settings.recovery_interval_seconds,
        # A sweep not started before the next is due is redundant.
        "options": {"expires": _settings.recovery_interval_seconds},
    },
    # Catches what a completion's own sync missed (Neo4j was down, the broker was away).
    "sync-graph": {
        "task": "graph.sync",
        "schedule": _settings.graph_sync_interval_seconds,
        "options": {"expires": _settings.graph_sync_interval_seconds},
    },
}
broker_connection_retry_on_startup = True
task_serializer = "json"
accept_content = ["json"]
event_serializer = "json"
