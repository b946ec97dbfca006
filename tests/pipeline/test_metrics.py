"""Prometheus metrics as operators scrape them: meetings run by real worker processes (the
prefork pool writing to PROMETHEUS_MULTIPROC_DIR), /metrics read over HTTP from the hook
server and from `minutes metrics serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from integrations.errors import IntegrationError
from pipeline.config import Settings
from pipeline.intake import create_conversation
from pipeline.metrics import remove_samples_of_dead_processes
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from pipeline.stages import StageOutcome
from repositories.models import ConversationStatus, utc_now
from tests.audio import silence
from tests.fakes import TRANSCRIPT
from tests.pipeline.test_graph_sync import database
from tests.workers import MINUTES, Cluster, answers, broker_url, cluster

__all__ = ["broker_url", "cluster", "database"]  # the fixtures this module uses

DATA = Path(__file__).parent.parent / "integrations" / "data"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# The stage tasks a meeting runs through on the workers; in process, the follow-up too.
STAGES = ("pipeline.transcribe", "pipeline.synthesize")
IN_PROCESS_STAGES = (*STAGES, "pipeline.follow_up")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape_until(url: str, ready: Callable[[Samples], bool], timeout: float = 30.0) -> Samples:
    """The metrics once `ready` holds: a task's samples are written just after its last
    row is committed."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def runs(task: str) -> float:
    """The task's runs this test process timed (it keeps its metrics in memory)."""
    count = REGISTRY.get_sample_value("minutes_task_duration_seconds_count", {"task": task})
    return count or 0.0


def stored(cluster: Cluster, recording: Path) -> uuid.UUID:
    with cluster.uow as uow:
        return uow.conversations.create(
            source_uri=str(recording),
            title="Release planning",
            lease_expires_at=utc_now() + timedelta(minutes=30),
        ).id


def minutes(*args: str, cluster: Cluster, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MINUTES, *args],
        capture_output=True,
        text=True,
        env=cluster.env(**settings),
        timeout=120,
        check=False,
    )


class TestMetricsOfWorkers:
    def test_meetings_run_by_workers_show_in_the_metrics_both_servers_serve(
        self, cluster: Cluster, tmp_path: Path
    ) -> None:
        # Created by whoever starts first: the folder need not exist beforehand.
        folder = str(tmp_path / "prometheus")
        settings = {"PROMETHEUS_MULTIPROC_DIR": folder}
        worker = cluster.worker(
            transcriber="checking", synthesizer="chat", PROMETHEUS_MULTIPROC_DIR=folder
        )
        hook = f"http://127.0.0.1:{free_port()}"
        cluster.service(
            "hook",
            [*MINUTES, "hooks", "serve", "--port", hook.rsplit(":", 1)[1]],
            answers(f"{hook}/healthz"),
            **settings,
        )
        served = f"http://127.0.0.1:{free_port()}"
        cluster.service(
            "metrics",
            [*MINUTES, "metrics", "serve", "--port", served.rsplit(":", 1)[1]],
            answers(f"{served}/metrics"),
            **settings,
        )
        good = stored(cluster, silence(cluster.audio_root / "good.wav", seconds=1.0))
        empty = cluster.audio_root / "empty.wav"
        empty.touch()
        bad = stored(cluster, empty)

        for conversation_id in (good, bad):
            cluster.send("pipeline.transcribe", conversation_id)
        cluster.wait_for(good, ConversationStatus.COMPLETED)
        failed = cluster.wait_for(bad, ConversationStatus.FAILED)

        def all_recorded(samples: Samples) -> bool:
            return all(
                value(samples, "minutes_task_duration_seconds_count", task=task) for task in STAGES
            )

        for url in (f"{hook}/metrics", f"{served}/metrics"):
            samples = scrape_until(url, all_recorded)
            # The stage histograms: every stage timed, the failed transcription too.
            for task in STAGES:
                runs = 2 if task == "pipeline.transcribe" else 1
                count = value(samples, "minutes_task_duration_seconds_count", task=task)
                assert count == runs, (task, url)
                assert value(samples, "minutes_task_duration_seconds_bucket", task=task, le="+Inf")
                assert (
                    value(samples, "minutes_task_duration_seconds_bucket", task=task, le="7200.0")
                    == runs
                )
                assert (value(samples, "minutes_task_duration_seconds_sum", task=task) or 0) > 0
            # What the transcript the stage stored says: one recording of 12 seconds.
            assert value(samples, "minutes_transcribed_audio_seconds_sum", provider="test") == (
                TRANSCRIPT.duration
            )
            assert value(samples, "minutes_transcribed_audio_seconds_count", provider="test") == 1
            assert (
                value(samples, "minutes_transcription_real_time_factor_count", provider="test") == 1
            )
            # The tokens the notes took, as the chat model's server reported them.
            for direction, tokens in (("in", 1200), ("out", 300)):
                assert (
                    value(
                        samples,
                        "minutes_llm_tokens_total",
                        provider="chat",
                        model="chat-model",
                        direction=direction,
                    )
                    == tokens
                )
            # The failed meeting, by its error's class: never the error's text.
            assert failed.error_message == "empty.wav: not audio"
            assert (
                value(
                    samples,
                    "minutes_task_failures_total",
                    task="pipeline.transcribe",
                    reason="UnreadableMediaError",
                    kind="permanent",
                )
                == 1
            )
            assert not any("not audio" in dict(labels).get("reason", "") for _, labels in samples)
            # No Neo4j configured: the completed meeting's graph event waits in the outbox.
            assert value(samples, "minutes_graph_outbox_pending") == 1
            assert (value(samples, "minutes_graph_outbox_oldest_pending_seconds") or 0) > 0
            for queue in ("transcription", "synthesis", "graph", "celery"):
                assert value(samples, "minutes_queue_depth", queue=queue) == 0

        # With no worker to take them, what is sent waits in the broker: a message with a
        # priority in a list of its own beside the queue's, counted with it.
        worker.stop()
        cluster.send("pipeline.transcribe", good)
        cluster.send("pipeline.transcribe", bad, priority=9)
        cluster.send("pipeline.synthesize", good)
        for url in (f"{hook}/metrics", f"{served}/metrics"):
            samples = scrape(url)
            assert value(samples, "minutes_queue_depth", queue="transcription") == 2
            assert value(samples, "minutes_queue_depth", queue="synthesis") == 1
            assert value(samples, "minutes_queue_depth", queue="graph") == 0
            # The worker's pool processes are gone; what they counted is kept.
            assert value(samples, "minutes_task_duration_seconds_count", task=STAGES[0]) == 2

        # Watching a meeting that failed ends at once, with its error and exit status 1.
        watched = minutes("status", str(bad), "--watch", "--json", cluster=cluster)
        assert watched.returncode == 1, watched.stderr
        document = json.loads(watched.stdout)
        assert document["status"] == "failed"
        assert document["error_message"] == "empty.wav: not audio"


class TestMetricsInProcess:
    """Without a broker the stages run in the process that asked (`minutes process`, the
    hook server): they are timed and their failures counted all the same."""

    def test_stages_run_without_a_broker_are_timed_and_their_failures_counted(
        self, database: str, tmp_path: Path
    ) -> None:
        runtime = Runtime(Settings(database_url=SecretStr(database), audio_roots=[DATA, tmp_path]))
        before = {task: runs(task) for task in IN_PROCESS_STAGES}
        transcript = create_conversation(
            runtime.unit_of_work(), source_uri=str(DATA / "teams_meeting.vtt"), title="Q3"
        )
        malformed = tmp_path / "malformed.vtt"
        malformed.write_text("WEBVTT\n\nnot a cue at all\n", encoding="utf-8")
        broken = create_conversation(runtime.unit_of_work(), source_uri=str(malformed), title="Q3")
        try:
            assert run_in_process(transcript, runtime) is StageOutcome.DONE
            with pytest.raises(IntegrationError) as raised:
                run_in_process(broken, runtime)
        finally:
            runtime.close()

        assert {task: runs(task) - before[task] for task in IN_PROCESS_STAGES} == {
            "pipeline.transcribe": 2,
            "pipeline.synthesize": 1,
            "pipeline.follow_up": 1,
        }
        reason = type(raised.value).__name__
        assert (
            REGISTRY.get_sample_value(
                "minutes_task_failures_total",
                {"task": "pipeline.transcribe", "reason": reason, "kind": "permanent"},
            )
            == 1
        )


class TestMultiprocessFolder:
    def test_a_starting_worker_removes_what_processes_now_gone_wrote(self, tmp_path: Path) -> None:
        ended = subprocess.Popen(["true"])
        ended.wait()
        left = [
            tmp_path / f"counter_{ended.pid}.db",
            tmp_path / f"histogram_{ended.pid}.db",
        ]
        kept = [tmp_path / f"counter_{os.getpid()}.db", tmp_path / f"histogram_{os.getpid()}.db"]
        for file in (*left, *kept):
            file.write_bytes(b"")

        remove_samples_of_dead_processes(tmp_path)

        assert sorted(tmp_path.iterdir()) == sorted(kept)


class TestServeRefusesBadAddresses:
    @pytest.mark.parametrize("command", [("metrics", "serve"), ("hooks", "serve")])
    def test_a_port_in_use(self, cluster: Cluster, command: tuple[str, ...]) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = minutes(*command, "--port", str(port), cluster=cluster)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.splitlines() == [f"error: --port {port}: already in use on 127.0.0.1"]

    @pytest.mark.parametrize("host", ["127.0.0.256", "not a host", "-bad-.example"])
    def test_a_host_that_is_no_address(self, cluster: Cluster, host: str) -> None:
        result = minutes("metrics", "serve", "--host", host, "--port", "9464", cluster=cluster)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"error: --host {host!r}: not an IP address or a host name"
        ]
