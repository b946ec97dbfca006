"""How long a stage waits before retrying a transient error.

Capped exponential backoff with equal jitter: the n-th retry waits between half and all of
`min(cap, first * 2**n)`. Full jitter (anywhere from 0 to the ceiling) spreads retries best,
but it has no floor: a run of small draws spends every retry within a minute, which is how
a 60 s PostgreSQL outage once used up all 8 retries in 55 s. Equal jitter keeps half of each
step as a floor, so the retries are sure to span `span(retries)[0]` seconds at least, and
still spreads the workers that failed together over the other half.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 5.0  # the first retry's ceiling, in seconds
    cap: float = 5 * 60.0  # no single wait is longer

    def ceiling(self, retries: int) -> float:
        """The longest wait before retry number `retries + 1` (`retries` done so far)."""
        # The exponent is bounded: 2.0 ** 1100 overflows a float, and the cap is long reached.
        return min(self.cap, self.first * 2.0 ** min(retries, 64))

    def countdown(self, retries: int, *, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait before the next retry, `retries` having been made already.

        `draw` gives a number in [0, 1): the jitter.
        """
        half = self.ceiling(retries) / 2
        return half + draw() * half

    def span(self, retries: int) -> tuple[float, float]:
        """The shortest and longest time `retries` retries can wait in all: how long an
        outage they ride out for certain, and at most."""
        longest = sum(self.ceiling(n) for n in range(retries))
        return longest / 2, longest
