"""The deployment as operators run it: the signed HTTP hook, `minutes worker` with the real
local Whisper and the recovery beat, and Flower watching, all on Redis and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

from repositories.models import ConversationStatus, GraphOutboxEvent, TranscriptSegment
from tests.workers import Cluster, answers, broker_url, cluster

__all__ = ["broker_url", "cluster"]  # the fixtures this module uses

MINUTES = [sys.executable, "-c", "from pipeline.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def signed(body: bytes, secret: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Minutes-Timestamp": timestamp,
        "X-Minutes-Signature": f"sha256={digest}",
    }


class TestDeployment:
    def test_a_signed_upload_is_transcribed_by_a_worker_while_flower_watches(
        self, cluster: Cluster, corpus: Path
    ) -> None:
        meeting = json.loads((corpus / "scripted" / "incident-review.json").read_text())
        recording = corpus / "scripted" / "incident-review.wav"
        secret, token = secrets.token_hex(16), secrets.token_urlsafe(16)
        # Flower shows conversation ids (task arguments): as in docker-compose.yml, it asks
        # for a password, from FLOWER_BASIC_AUTH.
        flower_auth = ("minutes", secrets.token_urlsafe(16))
        hook = f"http://127.0.0.1:{free_port()}"
        flower = f"http://127.0.0.1:{free_port()}"
        settings = {"AUDIO_ROOTS": str(recording.parent), "HOOK_SECRET": secret}

        cluster.service(
            "flower",
            [
                sys.executable,
                *("-m", "celery", "-A", "pipeline.app", "flower"),
                f"--port={flower.rsplit(':', 1)[1]}",
                "--address=127.0.0.1",
            ],
            answers(f"{flower}/healthcheck"),
            FLOWER_BASIC_AUTH=":".join(flower_auth),
            **settings,
        )
        hostname = f"e2e-{uuid.uuid4().hex[:6]}@localhost"
        cluster.service(
            "worker",
            [
                *(*MINUTES, "worker", "--beat", "--concurrency", "1", "--hostname", hostname),
                *("--schedule", str(cluster.state / "beat-schedule")),  # options Celery takes
            ],
            lambda log: b" ready." in log.read_bytes(),
            **settings,
        )
        cluster.service(
            "hook",
            [*MINUTES, "hooks", "serve", "--port", hook.rsplit(":", 1)[1]],
            answers(f"{hook}/healthz"),
            API_TOKEN=token,
            **settings,
        )
        body = json.dumps(
            {
                "source_uri": str(recording),
                "title": meeting["title"],
                "platform": meeting["platform"],
                "platform_meeting_id": meeting["platform_meeting_id"],
                "participants": [
                    {"name": p["name"], "email": p["email"], "organizer": p.get("organizer", False)}
                    for p in meeting["participants"]
                ],
                "idempotency_key": f"upload-{uuid.uuid4()}",
            }
        ).encode()

        accepted = httpx.post(f"{hook}/hooks/upload", content=body, headers=signed(body, secret))

        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "pending"
        conversation_id = uuid.UUID(accepted.json()["conversation_id"])
        cluster.wait_for(conversation_id, ConversationStatus.COMPLETED, timeout=240)

        with cluster.uow as uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
            assert conversation is not None
            people = {(p.name, p.email, p.is_organizer) for p in conversation.participants}
            notes = conversation.synthesis
        assert conversation.transcription_provider == "local"
        assert conversation.platform_meeting_id == meeting["platform_meeting_id"]
        assert {
            (p["name"], p["email"], p.get("organizer", False)) for p in meeting["participants"]
        } <= people
        assert notes is not None
        assert len(notes.key_decisions) >= 1
        assert len(notes.action_items) >= 1
        with cluster.engine.connect() as connection:
            for model in (TranscriptSegment, GraphOutboxEvent):
                rows = connection.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.conversation_id == conversation_id)
                )
                assert rows == (1 if model is GraphOutboxEvent else len(conversation.segments))
        assert len(conversation.segments) >= 10

        status = httpx.get(
            f"{hook}/conversations/{conversation_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status.status_code == 200
        assert status.json()["status"] == "completed"

        assert httpx.get(f"{flower}/api/tasks", timeout=30).status_code == 401
        assert httpx.get(f"{flower}/tasks", timeout=30).status_code == 401
        workers = httpx.get(
            f"{flower}/api/workers", params={"refresh": "true"}, auth=flower_auth, timeout=30
        )
        assert workers.status_code == 200, workers.text
        assert hostname in workers.json()
        tasks = httpx.get(f"{flower}/api/tasks", auth=flower_auth, timeout=30).json()
        ours = [
            task
            for task in tasks.values()
            if task["name"] in {"pipeline.transcribe", "pipeline.synthesize"}
            and str(conversation_id) in (task.get("args") or "")
        ]
        assert {(task["name"], task["state"]) for task in ours} >= {
            ("pipeline.transcribe", "SUCCESS"),
            ("pipeline.synthesize", "SUCCESS"),
        }
