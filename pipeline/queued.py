"""Records in the broker of the conversations whose stage is queued: lost from waiting.

Work waiting in a queue has no worker to renew a lease, so the database alone cannot tell
a message still waiting behind a long backlog from one the broker lost (Redis restarted
with nothing on disk, a flush). Each send therefore leaves a record beside the message,
in the broker's own Redis database: the record vanishes with the messages when the broker
loses them, and stays while they wait. The recovery sweep sends again only the queued
conversations whose record is gone.

A record lasts `presumed_lost_after` (30 minutes): a message not started by then is taken
for lost all the same. A worker killed while it held a message it had not yet started (a
retry counting down, a prefetched one) leaves it to Redis's visibility timeout, hours
away; sending it again is safe, since a stage's claim lets only one delivery run it. A
backlog longer than that is sent again once every 30 minutes, no more.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import redis

_KEY_PREFIX = "minutes:queued:"
PRESUMED_LOST_AFTER_S = 30 * 60


class QueueRecords:
    """One record per conversation and task sent for it: `minutes:queued:<id>:<task>`.

    Per task, not per conversation: the record of a stage whose message was taken must not
    stand for the next stage's, which a worker killed between its commit and its send
    never sent.
    """

    def __init__(self, broker_url: str, *, presumed_lost_after: float = PRESUMED_LOST_AFTER_S):
        self._redis = redis.Redis.from_url(broker_url)
        self._lifetime_ms = int(presumed_lost_after * 1000)

    def mark(self, conversation_id: str, task: str) -> None:
        """Record that `task` was sent for the conversation (one SET)."""
        self._redis.set(_key(conversation_id, task), 1, px=self._lifetime_ms)

    def waiting(self, sent: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
        """The conversations of `sent` (id and task) whose record is there: the task was
        sent, and the broker has not lost it since."""
        if not sent:
            return set()
        found = self._redis.mget([_key(str(id), task) for id, task in sent])
        return {id for (id, _), value in zip(sent, found, strict=True) if value is not None}

    def close(self) -> None:
        self._redis.close()


def _key(conversation_id: str, task: str) -> str:
    return f"{_KEY_PREFIX}{conversation_id}:{task}"
