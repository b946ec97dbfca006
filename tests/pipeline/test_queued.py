"""The broker's records of queued work, on a real Redis: what tells lost from waiting."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from pipeline.queued import QueueRecords
from tests.workers import REDIS_URL, redis_client


@pytest.fixture
def broker() -> Iterator[str]:
    client = redis_client(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


class TestQueueRecords:
    def test_a_sent_task_is_waiting_until_the_broker_loses_it(self, broker: str) -> None:
        records = QueueRecords(broker)
        sent, other = uuid.uuid4(), uuid.uuid4()
        records.mark(str(sent), "pipeline.transcribe")

        assert records.waiting([(sent, "pipeline.transcribe"), (other, "pipeline.transcribe")]) == {
            sent
        }
        # The record is of that task only: the next stage's was never sent.
        assert records.waiting([(sent, "pipeline.synthesize")]) == set()

        redis_client(broker).flushdb()  # Redis restarted with nothing on disk

        assert records.waiting([(sent, "pipeline.transcribe")]) == set()

    def test_a_message_not_started_in_time_is_presumed_lost(self, broker: str) -> None:
        # Held by a worker that died (a retry counting down): Redis would give it back only
        # after its visibility timeout, hours later.
        records = QueueRecords(broker, presumed_lost_after=0.2)
        held = uuid.uuid4()
        records.mark(str(held), "pipeline.transcribe")
        assert records.waiting([(held, "pipeline.transcribe")]) == {held}

        time.sleep(0.5)

        assert records.waiting([(held, "pipeline.transcribe")]) == set()

    def test_records_sent_without_waiting_are_all_there_for_the_sweep(self, broker: str) -> None:
        # A sender does not wait for a record's answer; the sweep, in another process,
        # reads them with a client of its own.
        records = QueueRecords(broker)
        sent = [uuid.uuid4() for _ in range(50)]
        for conversation_id in sent:
            records.mark(str(conversation_id), "pipeline.synthesize")
        records.close()

        sweep = QueueRecords(broker)
        assert sweep.waiting([(id, "pipeline.synthesize") for id in sent]) == set(sent)
        sweep.close()
