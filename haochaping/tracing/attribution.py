"""The Attribution contract (DESIGN.md section 3): what tracing says about one rating.

Frozen values with to_wire(), the exact JSON shape the batch command prints and the worker
publishes; weights are rounded to 4 decimals and always sum to exactly 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WEIGHT_UNITS = 10_000  # weights are multiples of 1/10000 (4 decimals)


@dataclass(frozen=True, slots=True)
class Responsible:
    role: str
    province: str
    org: str | None

    def to_wire(self) -> dict[str, Any]:
        return {"role": self.role, "province": self.province, "org": self.org}


@dataclass(frozen=True, slots=True)
class Candidate:
    step: str
    weight: float
    reason: str

    def to_wire(self) -> dict[str, Any]:
        return {"step": self.step, "weight": self.weight, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Attribution:
    """Step, reason and organisation a rating is traced to, with the evidence used."""

    rating_id: str
    negative: bool
    step: str | None
    reason: str | None
    responsible: Responsible | None
    steps: tuple[Candidate, ...]
    confidence: float
    evidence: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "rating_id": self.rating_id,
            "negative": self.negative,
            "step": self.step,
            "reason": self.reason,
            "responsible": self.responsible.to_wire() if self.responsible is not None else None,
            "steps": [candidate.to_wire() for candidate in self.steps],
            "confidence": self.confidence,
            "evidence": list(self.evidence),
        }


def rounded_weights(scores: Sequence[float]) -> list[float]:
    """Scores → weights in units of 1/10000 that sum to exactly 1 (largest remainder method)."""
    total = sum(scores)
    if total <= 0:
        raise ValueError("weights need a positive total")
    exact = [score / total * WEIGHT_UNITS for score in scores]
    units = [int(value) for value in exact]
    short = WEIGHT_UNITS - sum(units)
    # Hand the missing units to the largest remainders; ties go to the earlier (stronger) one.
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - units[i]), i))
    for index in order[:short]:
        units[index] += 1
    return [unit / WEIGHT_UNITS for unit in units]
