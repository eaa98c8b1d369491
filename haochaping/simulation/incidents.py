"""Incidents: a province's step degraded from a simulated time, to test spike detection and tracing.

Parsed from the `--incident` option of `hcp simulate`; the case timelines ask here how much more
often a step goes wrong, and the affected ratings carry incident=True in their ground truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from haochaping.codes import PROVINCES, Reason, StepKind

_MATTER_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_REQUIRED = ("province", "step", "start", "factor")
_OPTIONAL = ("end", "matter", "reason")


@dataclass(frozen=True, slots=True)
class Incident:
    province: str  # province whose organisation performs the step
    step: StepKind
    start: datetime  # simulated event time, aware
    end: datetime | None
    factor: float  # multiplier on the probability that this step goes wrong (e.g. 3.0)
    matter_code: str | None = None  # None = all matters
    reason: Reason | None = None  # reason the degraded step produces; default: the step's typical reason

    def __post_init__(self) -> None:
        if self.province not in PROVINCES:
            raise ValueError(f"incident province: unknown province code {self.province!r}")
        if self.start.tzinfo is None:
            raise ValueError("incident start: needs a UTC offset, e.g. +08:00")
        if self.end is not None:
            if self.end.tzinfo is None:
                raise ValueError("incident end: needs a UTC offset, e.g. +08:00")
            if self.end <= self.start:
                raise ValueError("incident end: must be after start")
        if not self.factor > 0 or self.factor == float("inf"):
            raise ValueError(f"incident factor: must be a positive number (got {self.factor!r})")
        if self.matter_code is not None and not _MATTER_PATTERN.match(self.matter_code):
            raise ValueError(f"incident matter: {self.matter_code!r} is not a matter code")


def parse_incident(spec: str) -> Incident:
    """Parse "province=340000,step=TRANSFER,start=2026-11-20T09:00:00+08:00,factor=3[,end=...][,matter=...][,reason=DELAY]"; ValueError naming the bad key/value."""  # noqa: E501
    values: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise ValueError(f"incident: {part.strip()!r} is not key=value")
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise ValueError(f"incident: unknown key {key!r} (expected {', '.join(_REQUIRED + _OPTIONAL)})")
        if key in values:
            raise ValueError(f"incident: key {key!r} given twice")
        values[key] = value
    for key in _REQUIRED:
        if key not in values:
            raise ValueError(f"incident: missing key {key!r}")

    province = values["province"]
    if province not in PROVINCES:
        raise ValueError(f"incident province: unknown province code {province!r} (e.g. 340000)")
    try:
        step = StepKind(values["step"].upper())
    except ValueError:
        raise ValueError(f"incident step: unknown step kind {values['step']!r}") from None
    start = _moment("start", values["start"])
    end = _moment("end", values["end"]) if "end" in values else None
    try:
        factor = float(values["factor"])
    except ValueError:
        raise ValueError(f"incident factor: {values['factor']!r} is not a number") from None
    if not factor > 0 or factor == float("inf"):
        raise ValueError(f"incident factor: must be a positive number (got {values['factor']!r})")
    reason = None
    if "reason" in values:
        try:
            reason = Reason(values["reason"].upper())
        except ValueError:
            raise ValueError(f"incident reason: unknown reason code {values['reason']!r}") from None
    matter = values.get("matter") or None
    if matter is not None and not _MATTER_PATTERN.match(matter):
        raise ValueError(f"incident matter: {matter!r} is not a matter code")
    if end is not None and end <= start:
        raise ValueError(f"incident end: {values['end']!r} is not after start")
    return Incident(province, step, start, end, factor, matter, reason)


def _moment(key: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"incident {key}: {text!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise ValueError(f"incident {key}: {text!r} needs a UTC offset, e.g. +08:00")
    return moment


@dataclass(frozen=True, slots=True)
class ActiveIncident:
    """An incident with its window in POSIX seconds, for the hot path of the case timelines."""

    incident: Incident
    start: float
    end: float

    @classmethod
    def of(cls, incident: Incident) -> ActiveIncident:
        end = incident.end.timestamp() if incident.end is not None else float("inf")
        return cls(incident, incident.start.timestamp(), end)

    def covers(self, province: str, step: StepKind, matter_code: str, at: float) -> bool:
        found = self.incident
        return (
            found.step is step
            and found.province == province
            and self.start <= at < self.end
            and (found.matter_code is None or found.matter_code == matter_code)
        )
