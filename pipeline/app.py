"""The Celery app: `celery -A pipeline.app worker`, `celery -A pipeline.app flower`."""

from __future__ import annotations

from celery import Celery

app = Celery("minutes")
app.config_from_object("celeryconfig")
