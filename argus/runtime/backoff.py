"""The one retry schedule for an outage (the processor's batches, the sinks' deliveries): 0.1 s, doubling, at most 10 s.

Short first waits make a blip cost little; the cap keeps a long outage from hammering
PostgreSQL while still noticing its return within seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 10.0


def backoff_delays() -> Iterator[float]:
    """Successive waits between retries, forever."""
    delay = FIRST_BACKOFF_SECONDS
    while True:
        yield delay
        delay = min(delay * 2, MAX_BACKOFF_SECONDS)
