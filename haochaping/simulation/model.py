"""What the simulator emits: wire payloads with their event time and, for 差评, the ground truth.

Consumed by `hcp simulate` (which publishes the payloads) and by evaluation, which compares
tracing's attribution of each negative rating with the truth the simulator meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from haochaping.codes import Reason


@dataclass(frozen=True, slots=True)
class GroundTruth:
    step: str  # StepKind value, or "JOURNEY"/"POLICY"/"UNKNOWN" for what the simulator meant
    reason: Reason
    province: str  # province of the org responsible
    incident: bool


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    kind: Literal["rating", "case"]
    payload: dict[str, object]  # exactly the wire JSON of DESIGN.md section 3
    at: datetime  # event time (rated_at / at)
    truth: GroundTruth | None  # only for negative ratings
