"""Spike detector settings: window, lateness, evidence thresholds, baseline learning.

Built once by the worker or `hcp backtest` and passed to SpikeDetector; docs/alerts.md
shows the evaluation that chose these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    # Tumbling event-time windows, aligned to midnight Beijing time: 00-06, 06-12, 12-18, 18-24.
    # Six hours because a 差评 is rare (about 1% of a step's ratings) and a busy key gets tens of
    # ratings an hour: shorter windows hold too few complaints to tell a 3x rise from chance, and
    # ratings trail the fault by hours to days anyway, so a day-long window only adds delay.
    window: timedelta = timedelta(hours=6)
    window_origin_offset: timedelta = timedelta(hours=8)  # windows start at 00:00 in UTC+8
    # A window is evaluated this long after its end; ratings published later than that for a
    # closed window are dropped (and counted). Covers portals that upload in batches.
    allowed_lateness: timedelta = timedelta(minutes=30)

    # Evidence a window must carry before it is tested on its own; thinner windows of a matter
    # are tested pooled per (province, step).
    min_ratings: int = 30
    # At least this many (weighted) complaints: two angry ratings are not an incident.
    min_negatives: float = 3.0
    # The baseline is never taken below this rate: a key whose history happens to hold no
    # complaint at all would otherwise make any handful of them look like a spike.
    baseline_floor: float = 0.002
    # The rate must be at least this multiple of the baseline: at high volume a 10% rise is
    # significant but not worth anyone's afternoon.
    min_ratio: float = 1.5
    # A window this far above its baseline (one-sided p-value of the beta-binomial predictive
    # tail) opens a pending alert; the alert fires when the rise holds in each of the next
    # windows (rate above baseline) and all pending windows together reach `alpha`.
    trigger_alpha: float = 0.05
    alpha: float = 1e-3
    # Windows the rise must hold, the first included, before the alert fires. Raising
    # max_pending_windows lets a pending key keep gathering evidence while the pending windows
    # together stay at trigger_alpha, which catches rises that build up over days, but it tests
    # the same key again and again: it tripled false alerts in the evaluation.
    pending_windows: int = 2
    max_pending_windows: int = 2
    # A window this improbable fires at once, without the pending period.
    overwhelming_alpha: float = 1e-7

    # After a resolve, the key stays quiet this many windows (a flapping key pages once a day).
    cooldown_windows: int = 4
    # Resolved when at least this many windows with ratings, together at least min_ratings,
    # show no rise at this significance level.
    resolve_windows: int = 2
    resolve_alpha: float = 0.05

    # Baseline: exponentially decayed counts of the key's own normal windows (half-life in
    # windows; 28 = a week of 6-hour windows, so weekdays and weekends both count), shrunk
    # towards the parent rate (matter key -> province and step -> step nationally) with the
    # weight of prior_strength ratings.
    half_life_windows: float = 28.0
    prior_strength: float = 100.0
    prior_rate: float = 0.02  # of a step before any history at all
    # Caps the baseline's weight in the test: rates drift between windows more than binomial
    # noise says, so even a long history is not treated as exact. 5,000 ratings keep a busy
    # key's baseline sharp (a 3x rise at ~400 ratings a window: 90% within 2 windows, 75% at
    # 2,000) without more false alerts on national traffic.
    max_strength: float = 5000.0
    # No alert for a step until this many of its ratings have been seen nationally (warm-up).
    min_history: float = 500.0
    # A quiet key's state is dropped once its decayed history falls below this many ratings.
    forget_below: float = 0.5

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or timedelta(days=1) % self.window != timedelta(0):
            raise ValueError(f"window: must divide a day evenly (got {self.window})")
        if self.allowed_lateness < timedelta(0):
            raise ValueError("allowed_lateness: must not be negative")
        if self.min_ratings < 1:
            raise ValueError("min_ratings: must be at least 1")
        if self.min_negatives < 0 or self.min_ratio < 1:
            raise ValueError("min_negatives must be >= 0 and min_ratio >= 1")
        for name in ("trigger_alpha", "alpha", "overwhelming_alpha", "resolve_alpha"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f"{name}: must be between 0 and 1 (got {value})")
        if not self.overwhelming_alpha <= self.alpha <= self.trigger_alpha:
            raise ValueError("need overwhelming_alpha <= alpha <= trigger_alpha")
        if self.pending_windows < 1 or self.resolve_windows < 1 or self.cooldown_windows < 0:
            raise ValueError("pending_windows and resolve_windows must be >= 1, cooldown_windows >= 0")
        if self.max_pending_windows < self.pending_windows:
            raise ValueError("max_pending_windows: must be at least pending_windows")
        if not 0 <= self.baseline_floor < 1:
            raise ValueError("baseline_floor: must be in [0, 1)")
        if self.half_life_windows <= 0 or self.prior_strength <= 0 or self.max_strength <= 0:
            raise ValueError("half_life_windows, prior_strength and max_strength must be positive")
        if not 0 < self.prior_rate < 1:
            raise ValueError("prior_rate: must be between 0 and 1")

    @property
    def window_seconds(self) -> int:
        return int(self.window.total_seconds())

    @property
    def decay(self) -> float:
        """Weight left to the history after one window."""
        return float(0.5 ** (1.0 / self.half_life_windows))
