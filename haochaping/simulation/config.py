"""Simulation settings: seed, start time, provinces, traffic volume, rating shares and incidents.

`hcp simulate` builds one from its options; the Simulator validates nothing else, so every
limit is checked here when the config is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from haochaping.codes import PROVINCES
from haochaping.simulation.clock import CHINA_TZ
from haochaping.simulation.incidents import Incident

# Migrant destinations (长三角, 京津, 珠三角) and the provinces many of their residents come from.
DEFAULT_PROVINCES: tuple[str, ...] = (
    "310000", "320000", "330000", "340000", "110000", "120000",
    "130000", "440000", "510000", "500000", "520000", "420000",
)
# A Monday morning; any aware datetime works.
DEFAULT_START = datetime(2026, 11, 16, 8, 0, tzinfo=CHINA_TZ)


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    seed: int = 0
    start: datetime = DEFAULT_START  # simulated time of the first case
    provinces: tuple[str, ...] = DEFAULT_PROVINCES
    cases_per_hour: float = 600.0  # new cases per simulated hour across all provinces (weekly average)
    negative_share: float = 0.11  # target share of ratings with level <= 2
    rating_share: float = 0.8  # share of cases whose citizen rates
    hotline_share: float = 0.03  # ratings with case_id null (12345 hotline)
    incidents: tuple[Incident, ...] = ()
    # Share of cases whose matter code is not in the catalog (a local code, traced with the generic
    # process); 0 by default so every case names a catalog matter.
    unknown_matter_share: float = 0.0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start: needs a UTC offset, e.g. 2026-11-16T08:00:00+08:00")
        if len(str(self.seed)) > 40:
            raise ValueError("seed: at most 40 digits (it is part of every event id)")
        if len(self.provinces) < 2:
            raise ValueError("provinces: need at least two for cross-province cases")
        for code in self.provinces:
            if code not in PROVINCES:
                raise ValueError(f"provinces: unknown province code {code!r}")
        if len(set(self.provinces)) != len(self.provinces):
            raise ValueError("provinces: a province is listed twice")
        if not 0 < self.cases_per_hour < 1e7:
            raise ValueError(f"cases_per_hour: must be positive (got {self.cases_per_hour})")
        if not 0 < self.negative_share < 0.5:
            raise ValueError(f"negative_share: must be between 0 and 0.5 (got {self.negative_share})")
        if not 0 < self.rating_share <= 1:
            raise ValueError(f"rating_share: must be in (0, 1] (got {self.rating_share})")
        if not 0 <= self.hotline_share < 0.5:
            raise ValueError(f"hotline_share: must be in [0, 0.5) (got {self.hotline_share})")
        if not 0 <= self.unknown_matter_share <= 1:
            raise ValueError(f"unknown_matter_share: must be in [0, 1] (got {self.unknown_matter_share})")
        for incident in self.incidents:
            if not isinstance(incident, Incident):
                raise ValueError(f"incidents: {incident!r} is not an Incident (use parse_incident)")
