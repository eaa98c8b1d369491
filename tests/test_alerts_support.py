"""Hand-made step observations and a small detector config shared by the alert tests (no tests here)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from haochaping.alerts import Alert, DetectorConfig, SpikeDetector
from haochaping.observations import StepObservation

CN = timezone(timedelta(hours=8))
START = datetime(2026, 11, 16, 0, 0, tzinfo=CN)
HOUR = timedelta(hours=1)
KEY = ("340000", "HCP-RS-CBZM", "DATA_SHARE")

# One-hour windows and no national warm-up, so a test needs only a few windows of history.
CONFIG = DetectorConfig(
    window=HOUR,
    allowed_lateness=timedelta(minutes=10),
    min_ratings=20,
    min_history=0.0,
)


def observations(
    start: datetime,
    ratings: int,
    negatives: int,
    key: tuple[str, str, str] = KEY,
    prefix: str = "",
    weight: float = 1.0,
) -> list[StepObservation]:
    """`ratings` observations spread over the hour from `start`, the first `negatives` complaints."""
    province, matter, step = key
    tag = prefix or f"{matter}-{step}-{start:%m%d%H%M}"
    result = []
    for number in range(ratings):
        negative = number < negatives
        result.append(
            StepObservation(
                rating_id=f"{tag}-{number:04d}",
                at=start + timedelta(seconds=number * 3600 // max(ratings, 1)),
                province=province,
                matter_code=matter,
                mode="online",
                step=step,
                role="DATA_PROVIDER",
                org_code=f"{province}-RSJ-SJ",
                level=1 if negative else 5,
                weight=weight if negative else 0.0,
                reason="DATA_NOT_SHARED" if negative else None,
                comment=f"第{number}位：数据调不过来，电话[手机号]" if negative else None,
            )
        )
    return result


def run_windows(
    detector: SpikeDetector, first: int, counts: list[tuple[int, int]], key: tuple[str, str, str] = KEY
) -> list[list[Alert]]:
    """Feeds one window per (ratings, negatives), from window `first`, and closes each; alerts per window."""
    closed = []
    for index, (ratings, negatives) in enumerate(counts, start=first):
        begin = START + index * HOUR
        detector.observe_all(observations(begin, ratings, negatives, key))
        closed.append(detector.advance(begin + HOUR + CONFIG.allowed_lateness))
    return closed


def flat(alerts: list[list[Alert]]) -> list[Alert]:
    return [alert for window in alerts for alert in window]
