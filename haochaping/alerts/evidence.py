"""What a key saw in one window (or several merged): counts, reasons, organisations, examples.

The detector keeps one Tally per open (key, window) and merges them into the evidence of an
alert; every part is bounded so that state stays small whatever the traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from haochaping.observations import StepObservation

MAX_EXAMPLES = 3
# Organisations of one key: a handful of offices per role and province; the cap guards state
# against a flood of made-up org codes.
MAX_ORGS = 16

Example = tuple[float, str, str]  # (weight, rating_id, masked comment)


@dataclass(slots=True)
class OrgShare:
    role: str
    ratings: int = 0
    negatives: float = 0.0


@dataclass(slots=True)
class Tally:
    ratings: int = 0
    negatives: float = 0.0  # sum of the weights attributed to the step
    windows: int = 0  # windows with ratings merged into this tally
    reasons: dict[str, float] = field(default_factory=dict)
    orgs: dict[str, OrgShare] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.negatives / self.ratings if self.ratings else 0.0

    def add(self, observation: StepObservation) -> None:
        self.ratings += 1
        weight = observation.weight
        share = self.orgs.get(observation.org_code)
        if share is None and len(self.orgs) < MAX_ORGS:
            share = self.orgs[observation.org_code] = OrgShare(observation.role)
        if share is not None:
            share.ratings += 1
        if weight <= 0.0:
            return
        self.negatives += weight
        if share is not None:
            share.negatives += weight
        reason = observation.reason or "OTHER"
        self.reasons[reason] = self.reasons.get(reason, 0.0) + weight
        if observation.comment:
            self._offer((weight, observation.rating_id, observation.comment))

    def merge(self, other: Tally) -> None:
        self.ratings += other.ratings
        self.negatives += other.negatives
        self.windows += other.windows
        for reason, weight in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0.0) + weight
        for code, theirs in other.orgs.items():
            mine = self.orgs.get(code)
            if mine is None:
                if len(self.orgs) >= MAX_ORGS:
                    continue
                mine = self.orgs[code] = OrgShare(theirs.role)
            mine.ratings += theirs.ratings
            mine.negatives += theirs.negatives
        for example in other.examples:
            self._offer(example)

    def _offer(self, example: Example) -> None:
        # The strongest complaints first; rating id breaks ties so replays pick the same ones.
        # The same sentence twice tells the reader nothing new.
        if any(known[1] == example[1] or known[2] == example[2] for known in self.examples):
            return
        self.examples.append(example)
        self.examples.sort(key=lambda item: (-item[0], item[1]))
        del self.examples[MAX_EXAMPLES:]

    def top_reasons(self, limit: int = 3) -> list[tuple[str, float]]:
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:limit]

    def responsible(self, limit: int = 3) -> list[tuple[str, OrgShare]]:
        """Organisations that drew complaints, most first."""
        ranked = sorted(
            ((code, share) for code, share in self.orgs.items() if share.negatives > 0),
            key=lambda item: (-item[1].negatives, item[0]),
        )
        return ranked[:limit]

    def to_state(self) -> list[Any]:
        return [
            self.ratings,
            self.negatives,
            self.windows,
            self.reasons,
            {code: [share.role, share.ratings, share.negatives] for code, share in self.orgs.items()},
            [list(example) for example in self.examples],
        ]

    @classmethod
    def from_state(cls, state: list[Any]) -> Tally:
        ratings, negatives, windows, reasons, orgs, examples = state
        return cls(
            int(ratings),
            float(negatives),
            int(windows),
            {str(reason): float(weight) for reason, weight in reasons.items()},
            {str(code): OrgShare(str(role), int(n), float(w)) for code, (role, n, w) in orgs.items()},
            [(float(weight), str(rating_id), str(comment)) for weight, rating_id, comment in examples],
        )
