"""Alerts as the detector emits them and as they go on the wire (alerts topic, webhook).

The alert id hashes the key, the incident's first window and the state, so a replay or a
backtest over the same events produces the same ids and consumers can de-duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from haochaping.codes import REASON_LABELS

AlertState = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class ReasonShare:
    reason: str
    negatives: float


@dataclass(frozen=True, slots=True)
class ResponsibleOrg:
    org: str
    role: str
    ratings: int
    negatives: float


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    state: AlertState
    province: str  # of the organisation that performs the step
    matter_code: str | None  # None: pooled over the matters too thin to test alone
    step: str
    window_start: datetime
    window_end: datetime
    ratings: int
    negatives: float  # weighted complaints attributed to the step
    rate: float
    baseline: float
    score: float  # -log10 of the p-value of the rise (firing) or of what remains of it (resolved)
    top_reasons: tuple[ReasonShare, ...]
    examples: tuple[str, ...]  # masked comments
    organisations: tuple[ResponsibleOrg, ...]
    query: str

    @property
    def key(self) -> tuple[str, str | None, str]:
        return self.province, self.matter_code, self.step

    def to_wire(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "state": self.state,
            "province": self.province,
            "matter_code": self.matter_code,
            "step": self.step,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "ratings": self.ratings,
            "negatives": round(self.negatives, 3),
            "rate": round(self.rate, 5),
            "baseline": round(self.baseline, 5),
            "score": round(self.score, 2),
            "top_reasons": [
                {"reason": share.reason, "label": REASON_LABELS.get(share.reason, share.reason),
                 "negatives": round(share.negatives, 3)}
                for share in self.top_reasons
            ],
            "examples": list(self.examples),
            "organisations": [
                {"org": org.org, "role": org.role, "ratings": org.ratings, "negatives": round(org.negatives, 3)}
                for org in self.organisations
            ],
            "query": self.query,
        }


def alert_id(state: AlertState, province: str, matter_code: str | None, step: str, incident_start: datetime) -> str:
    """Deterministic: the same incident of the same key always gets the same id per state."""
    text = f"{state}|{province}|{matter_code or '*'}|{step}|{int(incident_start.timestamp())}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
