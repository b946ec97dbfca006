"""Records in the broker of the conversations whose stage is queued: lost from waiting.

Work waiting in a queue has no worker to renew a lease, so the database alone cannot tell
a message still waiting behind a long backlog from one the broker lost (Redis restarted
with nothing on disk, a flush). Each send therefore leaves a record beside the message,
in the broker's own Redis database: the record vanishes with the messages when the broker
loses them, and stays while they wait however long. The recovery sweep sends again only
the queued conversations whose record is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import redis

_KEY_PREFIX = "minutes:queued:"
# Only clears the records of conversations long finished; far beyond any real backlog.
_RECORD_TTL_S = 24 * 60 * 60


class QueueRecords:
    """One conversation's record: its id as key, the task last sent for it as value."""

    def __init__(self, broker_url: str) -> None:
        self._redis = redis.Redis.from_url(broker_url)

    def mark(self, conversation_id: str, task: str) -> None:
        """Record that `task` was sent for the conversation (one SET, replacing the last)."""
        self._redis.set(_KEY_PREFIX + conversation_id, task, ex=_RECORD_TTL_S)

    def waiting(self, conversation_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of `conversation_ids` whose record is there: sent, and not lost since."""
        if not conversation_ids:
            return set()
        found = self._redis.mget([_KEY_PREFIX + str(id) for id in conversation_ids])
        return {id for id, value in zip(conversation_ids, found, strict=True) if value is not None}

    def close(self) -> None:
        self._redis.close()
