"""How a worker runs and retries jobs: its settings, and the wait before each retry."""

from __future__ import annotations

import random
from dataclasses import dataclass

JITTER = (0.75, 1.25)
MAX_RETRY_DELAY_SECONDS = 86_400.0


def retry_delay(attempt: int, base_seconds: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (from 1): base * 2^(attempt-1),
    times a jitter drawn uniformly from [0.75, 1.25], so that jobs failing together do not
    retry together. The exponential part stops growing at a day (at the default base of 10 s,
    only from the 15th attempt on; JOB_MAX_ATTEMPTS is 8)."""
    exponential = min(base_seconds * 2.0 ** min(attempt - 1, 64), MAX_RETRY_DELAY_SECONDS)
    return exponential * rng.uniform(*JITTER)


@dataclass(frozen=True, slots=True)
class JobRunnerSettings:
    """How a worker runs jobs. `worker` names it in leases (say, host and process id)."""

    worker: str = "worker"
    max_attempts: int = 8
    retry_base_seconds: float = 10.0
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    grace_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("a job needs at least one attempt")
        if min(self.lease_seconds, self.poll_seconds) <= 0:
            raise ValueError("lease_seconds and poll_seconds must be positive")
        if min(self.retry_base_seconds, self.grace_seconds) < 0:
            raise ValueError("retry_base_seconds and grace_seconds must not be negative")
