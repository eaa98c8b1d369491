"""Step observations: what one traced rating says about each step its case went through.

The shared unit of the complaint rate. One observation per (rating, step of its case):
the rating counts once in the step's denominator and adds its attributed weight (0–1)
to the numerator. ClickHouse aggregates and the spike detector both consume these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from haochaping.codes import StepKind
from haochaping.events import RatingEvent
from haochaping.privacy import mask_personal_data
from haochaping.timeline import StepRecord
from haochaping.tracing import Attribution

_STEP_KINDS = frozenset(step.value for step in StepKind)


@dataclass(frozen=True, slots=True)
class StepObservation:
    """One rating seen from one step: `weight` is the share of the complaint attributed to the step."""

    rating_id: str
    at: datetime  # rated_at: the event time windows use
    province: str  # province of the organisation that performed the step
    matter_code: str
    mode: str
    step: str
    role: str
    org_code: str
    level: int
    weight: float  # 0.0 when the rating is positive or blames another step
    reason: str | None  # the reason attributed to this step, if any
    comment: str | None  # masked; for alert examples


def observe(
    rating: RatingEvent, attribution: Attribution, records: list[StepRecord], mode: str
) -> list[StepObservation]:
    """Observations of a rating over the steps in `records` (its case timeline).

    A step the attribution blames but the timeline does not show (a 办事指南 complaint,
    say) is observed too, at the responsible organisation: the citizen evidently went
    through it. A rating without a case timeline yields no observation: there is no
    knowing which steps it went through, so it stays out of rates (it is still in the
    attributions table).
    """
    if not records:
        return []
    blamed = {candidate.step: candidate for candidate in attribution.steps if candidate.step in _STEP_KINDS}
    comment = mask_personal_data(rating.comment) if rating.comment and blamed else None
    observations = []
    seen = set()
    for record in records:
        step = record.step.value
        seen.add(step)
        candidate = blamed.get(step)
        observations.append(
            StepObservation(
                rating.rating_id,
                rating.rated_at,
                record.org.province,
                rating.matter_code,
                mode,
                step,
                record.org.role.value,
                record.org.code,
                rating.level,
                candidate.weight if candidate is not None else 0.0,
                candidate.reason if candidate is not None else None,
                comment if candidate is not None else None,
            )
        )
    responsible = attribution.responsible
    for step, candidate in blamed.items():
        if step in seen or responsible is None:
            continue
        observations.append(
            StepObservation(
                rating.rating_id,
                rating.rated_at,
                responsible.province,
                rating.matter_code,
                mode,
                step,
                responsible.role,
                responsible.org or "",
                rating.level,
                candidate.weight,
                candidate.reason,
                comment,
            )
        )
    return observations
