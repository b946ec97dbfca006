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

# A stage is acknowledged only once it has finished, and handed back if its worker dies,
# so a crash means a redelivery (stages are idempotent), never a lost meeting.
task_acks_late = True
task_reject_on_worker_lost = True
# Transcriptions run for minutes: a worker takes one at a time, not a prefetched batch.
worker_prefetch_multiplier = 1
task_ignore_result = True
task_time_limit = 2 * 60 * 60
task_soft_time_limit = task_time_limit - 5 * 60

# Flower watches the workers through these events.
worker_send_task_events = True
task_send_sent_event = True

task_default_queue = "celery"
task_routes = {
    "pipeline.transcribe": {"queue": "transcription"},
    "pipeline.synthesize": {"queue": "synthesis"},
    "pipeline.complete": {"queue": "synthesis"},
    "graph.sync": {"queue": "graph"},
}
broker_connection_retry_on_startup = True
task_serializer = "json"
accept_content = ["json"]
