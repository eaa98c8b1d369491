"""A key's normal complaint rate: exponentially decayed counts of its normal windows.

The detector keeps one History per key, per (province, step) and per step nationally; the
baseline of a key is its history shrunk towards its parent's rate (a beta prior).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class History:
    ratings: float = 0.0
    negatives: float = 0.0
    window: int = -1  # index of the last window folded in; -1 before any

    def decayed(self, window: int, decay: float) -> tuple[float, float]:
        """(ratings, negatives) as they weigh at `window`, without changing the history."""
        if self.window < 0 or window <= self.window:
            return self.ratings, self.negatives
        factor = decay ** (window - self.window)
        return self.ratings * factor, self.negatives * factor

    def fold(self, window: int, ratings: int, negatives: float, decay: float) -> None:
        """Adds a normal window; windows without ratings in between decay the history."""
        self.ratings, self.negatives = self.decayed(window, decay)
        self.ratings += ratings
        self.negatives += negatives
        self.window = max(self.window, window)

    def shrunk(self, window: int, decay: float, parent_rate: float, prior_strength: float) -> tuple[float, float]:
        """(rate, strength): the posterior mean and weight, in ratings, of a beta prior at parent_rate."""
        ratings, negatives = self.decayed(window, decay)
        strength = prior_strength + ratings
        return (prior_strength * parent_rate + negatives) / strength, strength
