"""Stops the pipeline when invalid input stops looking like bad luck and starts looking like a bug.

A broken deployment (wrong schema version, wrong topic) would otherwise dead-letter
everything; over a sliding window of recent messages the guard trips instead.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


class DeadLetterLimitExceeded(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class DeadLetterLimit:
    max_ratio: float = 0.5  # more than half invalid is a misconfiguration, not portals' noise
    min_messages: int = 1_000  # never judge on a handful of messages


class DeadLetterGuard:
    """Counts valid and invalid messages per batch over roughly the last `window` messages."""

    def __init__(self, limit: DeadLetterLimit, window: int = 10_000) -> None:
        self._limit = limit
        self._window = max(window, limit.min_messages)
        self._batches: deque[tuple[int, int]] = deque()
        self._total = 0
        self._invalid = 0

    def check(self, total: int, invalid: int) -> None:
        """Record one batch; raise DeadLetterLimitExceeded before it is dead-lettered if the limit is passed."""
        self._batches.append((total, invalid))
        self._total += total
        self._invalid += invalid
        while self._batches and self._total - self._batches[0][0] >= self._window:
            old_total, old_invalid = self._batches.popleft()
            self._total -= old_total
            self._invalid -= old_invalid
        if self._total >= self._limit.min_messages and self._invalid > self._limit.max_ratio * self._total:
            ratio = self._invalid / self._total
            raise DeadLetterLimitExceeded(
                f"{self._invalid:,} of the last {self._total:,} messages were invalid ({ratio:.0%}, limit "
                f"{self._limit.max_ratio:.0%}): this looks like a misconfiguration (wrong topic, schema or "
                "portal version), so the worker stops instead of dead-lettering everything; fix it and restart "
                "(the batch that tripped the guard was not acknowledged)"
            )
