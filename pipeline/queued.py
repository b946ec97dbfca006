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

A record's SET is not waited for: the sender reads its answer at its next record (or
look-up), by when it has long arrived. Nothing needs the record before the sweep looks,
`requeue_after` after the send, and waiting would cost every stage a round trip to Redis.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Sequence

import redis
from redis.connection import ConnectionInterface
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

_KEY_PREFIX = "minutes:queued:"
PRESUMED_LOST_AFTER_S = 30 * 60
# Set while a follow-up run is queued and not started. Short-lived: should its message be
# lost while Redis keeps the key, the next completion after this sends another anyway.
_FOLLOW_UP_KEY = "minutes:queued:follow-up"
_FOLLOW_UP_WAITING_MS = 60_000


class QueueRecords:
    """One record per conversation and task sent for it: `minutes:queued:<id>:<task>`.

    Per task, not per conversation: the record of a stage whose message was taken must not
    stand for the next stage's, which a worker killed between its commit and its send
    never sent.
    """

    def __init__(self, broker_url: str, *, presumed_lost_after: float = PRESUMED_LOST_AFTER_S):
        self._redis = redis.Redis.from_url(broker_url)
        self._lifetime_ms = int(presumed_lost_after * 1000)
        self._lock = threading.Lock()
        # The records' own connection, out of the pool for good (the pool would hand it to
        # another command with answers still unread), and the process it belongs to.
        self._connection: ConnectionInterface | None = None
        self._connection_pid = 0
        self._unanswered = 0

    def mark(self, conversation_id: str, task: str) -> None:
        """Record that `task` was sent for the conversation: one SET, sent and not waited
        for. Raises the broker's error when it cannot be sent."""
        with self._lock:
            self._read_answers()
            connection = self._marking_connection()
            try:
                connection.send_command(  # type: ignore[no-untyped-call]
                    "SET", _key(conversation_id, task), 1, "PX", self._lifetime_ms
                )
            except RedisError:
                self._reset()
                raise
            self._unanswered += 1

    def follow_up_wanted(self) -> bool:
        """Whether a completion is to send a follow-up run: not while one sent before is
        still waiting to start. Records the send (one SET NX, waited for)."""
        return bool(self._redis.set(_FOLLOW_UP_KEY, 1, nx=True, px=_FOLLOW_UP_WAITING_MS))

    def follow_up_started(self) -> None:
        """A follow-up run is under way: what completes from now on needs another."""
        self._redis.delete(_FOLLOW_UP_KEY)

    def waiting(self, sent: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
        """The conversations of `sent` (id and task) whose record is there: the task was
        sent, and the broker has not lost it since."""
        if not sent:
            return set()
        with self._lock:
            self._read_answers()  # this process's own records are in before they are read
        found = self._redis.mget([_key(str(id), task) for id, task in sent])
        return {id for (id, _), value in zip(sent, found, strict=True) if value is not None}

    def close(self) -> None:
        with self._lock:
            self._read_answers()
            self._reset()
        self._redis.close()

    def _marking_connection(self) -> ConnectionInterface:
        if self._connection is None or self._connection_pid != os.getpid():
            # In a forked child the parent's connection is not ours to read from.
            connection = self._redis.connection_pool.make_connection()
            self._connection, self._connection_pid = connection, os.getpid()
            self._unanswered = 0
            return connection
        return self._connection

    def _read_answers(self) -> None:
        if not self._unanswered or self._connection_pid != os.getpid():
            return
        assert self._connection is not None
        try:
            while self._unanswered:
                self._connection.read_response()
                self._unanswered -= 1
        except RedisError as error:
            # The sweep sends a message whose record is missing again: a duplicate message,
            # which a stage's claim lets run only once.
            log.warning("a queue record may be missing error=%s", type(error).__name__)
            self._reset()

    def _reset(self) -> None:
        if self._connection is not None and self._connection_pid == os.getpid():
            self._connection.disconnect()  # type: ignore[no-untyped-call]
        self._connection = None
        self._unanswered = 0


def _key(conversation_id: str, task: str) -> str:
    return f"{_KEY_PREFIX}{conversation_id}:{task}"
