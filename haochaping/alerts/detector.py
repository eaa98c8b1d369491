"""The spike detector: step observations in, firing and resolved alerts out, in event time.

Pure and deterministic. The stream worker feeds each batch's observations and calls
advance() with its watermark; `hcp backtest` and the evaluation run the same object offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timezone
from typing import TypeVar

from haochaping.alerts.baseline import History
from haochaping.alerts.config import DetectorConfig
from haochaping.alerts.evidence import Tally
from haochaping.alerts.model import Alert, AlertState, ReasonShare, ResponsibleOrg, alert_id
from haochaping.alerts.query import evidence_query
from haochaping.alerts.state import FIRING, IDLE, PENDING, DetectorState, Group, Key, Track
from haochaping.alerts.stats import surprise, upper_tail
from haochaping.observations import StepObservation

_K = TypeVar("_K")


class SpikeDetector:
    def __init__(self, config: DetectorConfig | None = None, state: DetectorState | None = None) -> None:
        self.config = config = config if config is not None else DetectorConfig()
        self._window = config.window_seconds
        self._offset = int(config.window_origin_offset.total_seconds())
        self._lateness = config.allowed_lateness.total_seconds()
        self._decay = config.decay
        self._zone = timezone(config.window_origin_offset)
        self._per_day = 86_400 // self._window
        if state is None:
            state = DetectorState(self._window, self._offset)
        elif (state.window_seconds, state.offset_seconds) != (self._window, self._offset):
            raise ValueError(
                f"detector state: written with {state.window_seconds} s windows at offset {state.offset_seconds} s; "
                f"the config has {self._window} s at {self._offset} s (windows would not line up)"
            )
        self._state = state
        # Drops already reported by take_dropped_late(); a restored state's earlier drops were
        # reported by the worker that made them.
        self._reported_late = state.dropped_late

    # -- input -----------------------------------------------------------------------------

    def observe(self, observation: StepObservation) -> None:
        """Counts the observation in its event-time window, or drops it if that window is closed."""
        state = self._state
        at = observation.at.timestamp()
        window = int((at + self._offset) // self._window)
        if state.closed_through is not None and window <= state.closed_through:
            state.dropped_late += 1
            return
        if state.max_seen is None or at > state.max_seen:
            state.max_seen = at
        cells = state.open.get(window)
        if cells is None:
            cells = state.open[window] = {}
        key = (observation.province, observation.matter_code, observation.step)
        tally = cells.get(key)
        if tally is None:
            tally = cells[key] = Tally(windows=1)
        tally.add(observation)

    def observe_all(self, observations: Iterable[StepObservation]) -> None:
        for observation in observations:
            self.observe(observation)

    def advance(self, watermark: datetime | None = None) -> list[Alert]:
        """Evaluates every window that ended at least allowed_lateness before the watermark.

        Without an argument the watermark is the newest event time observed. The worker should
        not pass a watermark ahead of its wall clock: one rating with a wrong future timestamp
        would otherwise close windows early and make the rest late.
        """
        state = self._state
        if watermark is not None:
            moment = watermark.timestamp()
        elif state.max_seen is not None:
            moment = state.max_seen
        else:
            return []
        if state.watermark is not None and moment <= state.watermark:
            return []
        state.watermark = moment
        last = int((moment + self._offset - self._lateness) // self._window) - 1
        return self._close_through(last)

    def finish(self) -> list[Alert]:
        """Evaluates every open window (the end of a backtest: no more events will come)."""
        if not self._state.open:
            return []
        return self._close_through(max(self._state.open))

    # -- state -----------------------------------------------------------------------------

    @property
    def dropped_late(self) -> int:
        """Observations that arrived after their window had been evaluated, over the state's life."""
        return self._state.dropped_late

    def take_dropped_late(self) -> int:
        """Observations dropped late since the last call (or since this detector was made)."""
        dropped = self._state.dropped_late - self._reported_late
        self._reported_late = self._state.dropped_late
        return dropped

    @property
    def watermark(self) -> datetime | None:
        moment = self._state.watermark
        return None if moment is None else datetime.fromtimestamp(moment, UTC)

    @property
    def open_windows(self) -> int:
        return len(self._state.open)

    @property
    def tracked_keys(self) -> int:
        return len(self._state.keys)

    def status(self, province: str, matter_code: str | None, step: str) -> str:
        """idle, pending, firing, or cooling (resolved, in its cool-down) for a key; matter None = pooled."""
        state = self._state
        track = state.tracks.get((province, matter_code, step))
        if track is None:
            return IDLE
        if track.status == IDLE:
            following = -1 if state.closed_through is None else state.closed_through + 1
            return "cooling" if following < track.quiet_until else IDLE
        return track.status

    def encode(self) -> bytes:
        return self._state.encode()

    @classmethod
    def decode(cls, data: bytes, config: DetectorConfig | None = None) -> SpikeDetector:
        return cls(config, DetectorState.decode(data))

    # -- closing windows -------------------------------------------------------------------

    def _close_through(self, last: int) -> list[Alert]:
        state = self._state
        if state.closed_through is not None and last <= state.closed_through:
            return []
        alerts: list[Alert] = []
        for window in sorted(index for index in state.open if index <= last):
            self._forget_before(window)
            alerts.extend(self._close(window, state.open.pop(window)))
        state.closed_through = last
        self._forget_before(last + 1)
        alerts.sort(key=lambda alert: (alert.window_end, alert.state, alert.province, alert.step,
                                       alert.matter_code or ""))
        return alerts

    def _close(self, window: int, cells: dict[Key, Tally]) -> list[Alert]:
        state, config = self._state, self.config
        groups: dict[Group, list[tuple[Key, Tally]]] = {}
        for key, tally in cells.items():
            groups.setdefault((key[0], key[2]), []).append((key, tally))
        step_rates = {step: self._step_rate(step, window) for step in {group[1] for group in groups}}
        # Pooled keys with an open incident get their evaluation even in a window without thin matters.
        for key, track in state.tracks.items():
            if key[1] is None and track.status != IDLE:
                groups.setdefault((key[0], key[2]), [])
        alerts: list[Alert] = []
        normal_steps: dict[str, tuple[int, float]] = {}
        for group, members in groups.items():
            province, step = group
            step_rate = step_rates.get(step)
            if step_rate is None:
                step_rate = step_rates[step] = self._step_rate(step, window)
            parent_rate = self._history(state.groups, group).shrunk(
                window, self._decay, step_rate, config.prior_strength)[0]
            warm = state.steps.get(step, History()).decayed(window, self._decay)[0] >= config.min_history
            normal: list[tuple[Key, Tally]] = []
            thin: list[tuple[Key, Tally, float, float]] = []
            for key, tally in members:
                history = state.keys.get(key)
                rate, strength = (history or History()).shrunk(window, self._decay, parent_rate, config.prior_strength)
                status = state.tracks.get(key, _IDLE_TRACK).status
                if tally.ratings >= config.min_ratings or status != IDLE:
                    alert, is_normal = self._evaluate(key, tally, rate, strength, window, warm)
                    if alert is not None:
                        alerts.append(alert)
                    if is_normal:
                        normal.append((key, tally))
                else:
                    thin.append((key, tally, rate, strength))
            pooled = self._pool(province, step, thin, window, warm, alerts)
            if pooled:
                normal.extend((key, tally) for key, tally, _, _ in thin)
            ratings, negatives = self._fold(group, normal, window)
            if ratings:
                before = normal_steps.get(step, (0, 0.0))
                normal_steps[step] = (before[0] + ratings, before[1] + negatives)
        for step, (ratings, negatives) in normal_steps.items():
            self._history(state.steps, step).fold(window, ratings, negatives, self._decay)
        return alerts

    def _pool(
        self,
        province: str,
        step: str,
        thin: list[tuple[Key, Tally, float, float]],
        window: int,
        warm: bool,
        alerts: list[Alert],
    ) -> bool:
        """Tests the thin matters of a (province, step) together; True when their windows are normal."""
        key: Key = (province, None, step)
        track = self._state.tracks.get(key)
        active = track is not None and track.status != IDLE
        if not thin:  # nothing new for the pool; a gap is not evidence either way
            return True
        pooled = Tally()
        expected = 0.0
        strength = self.config.prior_strength
        for _, tally, rate, key_strength in thin:
            pooled.merge(tally)
            expected += tally.ratings * rate
            strength += key_strength - self.config.prior_strength
        pooled.windows = 1
        if pooled.ratings < self.config.min_ratings and not active:
            return True
        alert, is_normal = self._evaluate(key, pooled, expected / pooled.ratings, strength, window, warm)
        if alert is not None:
            alerts.append(alert)
        return is_normal

    def _fold(self, group: Group, normal: list[tuple[Key, Tally]], window: int) -> tuple[int, float]:
        state = self._state
        ratings, negatives = 0, 0.0
        for key, tally in normal:
            self._history(state.keys, key).fold(window, tally.ratings, tally.negatives, self._decay)
            ratings += tally.ratings
            negatives += tally.negatives
        if ratings:
            self._history(state.groups, group).fold(window, ratings, negatives, self._decay)
        return ratings, negatives

    def _step_rate(self, step: str, window: int) -> float:
        history = self._state.steps.get(step, History())
        return history.shrunk(window, self._decay, self.config.prior_rate, self.config.prior_strength)[0]

    @staticmethod
    def _history(table: dict[_K, History], key: _K) -> History:
        history = table.get(key)
        if history is None:
            history = table[key] = History()
        return history

    # -- the decision for one key ----------------------------------------------------------

    def _evaluate(
        self, key: Key, tally: Tally, rate: float, strength: float, window: int, warm: bool
    ) -> tuple[Alert | None, bool]:
        """(alert or None, whether the window is normal and may teach the baseline)."""
        state, config = self._state, self.config
        track = state.tracks.get(key)
        if track is not None and track.status == PENDING:
            if window - track.since < 2 * config.max_pending_windows:
                held = self._hold(key, track, tally, window)
                if held is not None:
                    return held
            else:  # the rise went quiet without data to confirm or refute it
                self._cancel(key, track)
            track = None
        if track is not None and track.status == FIRING:
            return self._calm(key, track, tally, window)
        strength = min(strength, config.max_strength)
        rate = max(rate, config.baseline_floor)
        p_value = upper_tail(tally.negatives, tally.ratings, rate, strength)
        opens = (
            warm
            and tally.ratings >= config.min_ratings
            and tally.negatives >= config.min_ratio * rate * tally.ratings
            and p_value <= config.trigger_alpha
        )
        if track is not None and window >= track.quiet_until:
            del state.tracks[key]
            track = None
        if not opens:
            return None, True
        if track is not None:  # cooling down: quiet, and a clearly high window teaches nothing
            return None, p_value > config.alpha
        track = Track(PENDING, window, window, rate, strength, _copy(tally))
        if self._convincing(tally, rate, p_value, config.overwhelming_alpha) or (
            config.pending_windows <= 1 and self._convincing(tally, rate, p_value, config.alpha)
        ):
            state.tracks[key] = track
            return self._fire(key, track, window, p_value), False
        if config.pending_windows <= 1:
            return None, True
        state.tracks[key] = track
        return None, False

    def _hold(self, key: Key, track: Track, tally: Tally, window: int) -> tuple[Alert | None, bool] | None:
        """A pending key's next window: fire, stay pending, or None when the rise did not hold."""
        config = self.config
        merged = _copy(track.evidence)
        merged.merge(tally)
        p_value = upper_tail(merged.negatives, merged.ratings, track.baseline, track.strength)
        if self._convincing(merged, track.baseline, p_value, config.alpha) and (
            merged.windows >= config.pending_windows or p_value <= config.overwhelming_alpha
        ):
            track.evidence = merged
            return self._fire(key, track, window, p_value), False
        # Still suggestive: keep gathering, so a rise that builds up over a day is seen too.
        if (
            merged.windows < config.max_pending_windows
            and p_value <= config.trigger_alpha
            and merged.negatives >= config.min_ratio * track.baseline * merged.ratings
        ):
            track.evidence = merged
            track.last = window
            return None, False
        self._cancel(key, track)
        return None

    def _cancel(self, key: Key, track: Track) -> None:
        """Forgets a pending rise; its windows were normal after all and teach the baseline late."""
        state = self._state
        del state.tracks[key]
        evidence, window = track.evidence, track.last
        province, matter_code, step = key
        if matter_code is not None:
            self._history(state.keys, key).fold(window, evidence.ratings, evidence.negatives, self._decay)
        self._history(state.groups, (province, step)).fold(window, evidence.ratings, evidence.negatives, self._decay)
        self._history(state.steps, step).fold(window, evidence.ratings, evidence.negatives, self._decay)

    def _calm(self, key: Key, track: Track, tally: Tally, window: int) -> tuple[Alert | None, bool]:
        config = self.config
        if not track.calm.ratings:
            track.calm_since = window
        calm = _copy(track.calm)
        calm.merge(tally)
        alone = upper_tail(tally.negatives, tally.ratings, track.baseline, track.strength)
        together = upper_tail(calm.negatives, calm.ratings, track.baseline, track.strength)
        if alone <= config.resolve_alpha or together <= config.resolve_alpha:
            track.calm = Tally()
            return None, False
        track.calm = calm
        track.last = window
        if calm.windows < config.resolve_windows or calm.ratings < config.min_ratings:
            return None, False
        alert = self._alert("resolved", key, track, track.calm_since, window, calm, together, track.evidence)
        self._state.tracks[key] = Track(IDLE, quiet_until=window + 1 + config.cooldown_windows)
        return alert, True

    def _fire(self, key: Key, track: Track, window: int, p_value: float) -> Alert:
        track.status = FIRING
        track.last = window
        track.calm = Tally()
        return self._alert("firing", key, track, track.since, window, track.evidence, p_value, track.evidence)

    def _convincing(self, tally: Tally, rate: float, p_value: float, alpha: float) -> bool:
        config = self.config
        return (
            tally.negatives >= config.min_negatives
            and tally.negatives >= config.min_ratio * rate * tally.ratings
            and p_value <= alpha
        )

    # -- output ----------------------------------------------------------------------------

    def _alert(
        self,
        state: AlertState,
        key: Key,
        track: Track,
        first: int,
        last: int,
        tally: Tally,
        p_value: float,
        blamed: Tally,
    ) -> Alert:
        province, matter_code, step = key
        start, end = self._start(first), self._start(last + 1)
        incident_start = self._start(track.since)
        # A resolved alert's query spans the whole incident: that is what the office has to explain.
        try:
            query = evidence_query(province, matter_code, step, incident_start if state == "resolved" else start, end)
        except ValueError as error:  # codes are validated upstream; an alert must not die for a query
            query = f"-- no evidence query: {error}"
        return Alert(
            alert_id=alert_id(state, province, matter_code, step, incident_start),
            state=state,
            province=province,
            matter_code=matter_code,
            step=step,
            window_start=start,
            window_end=end,
            ratings=tally.ratings,
            negatives=tally.negatives,
            rate=tally.rate,
            baseline=track.baseline,
            score=surprise(p_value),
            top_reasons=tuple(ReasonShare(reason, weight) for reason, weight in tally.top_reasons()),
            examples=tuple(comment for _, _, comment in tally.examples) if state == "firing" else (),
            organisations=tuple(
                ResponsibleOrg(code, share.role, share.ratings, share.negatives) for code, share in blamed.responsible()
            ),
            query=query,
        )

    def _stale(self, table: dict[_K, History], window: int) -> list[_K]:
        threshold = self.config.forget_below
        return [key for key, history in table.items() if history.decayed(window, self._decay)[0] < threshold]

    def _start(self, window: int) -> datetime:
        return datetime.fromtimestamp(window * self._window - self._offset, UTC).astimezone(self._zone)

    def _forget_before(self, window: int) -> None:
        """Forgets quiet keys once per day, at the day's first window, however advance() is called.

        Tying it to day boundaries keeps a run's alerts independent of how often the watermark moves.
        """
        boundary = window // self._per_day * self._per_day - 1
        if boundary > self._state.forgotten_through:
            self._forget(boundary)
            self._state.forgotten_through = boundary

    def _forget(self, window: int) -> None:
        """Drops the history of keys quiet for so long that it no longer weighs anything."""
        state = self._state
        keep = set(state.tracks)
        for key in self._stale(state.keys, window):
            if key not in keep:
                del state.keys[key]
        for group in self._stale(state.groups, window):
            del state.groups[group]
        for step in self._stale(state.steps, window):
            del state.steps[step]
        ended = [key for key, track in state.tracks.items() if track.status == IDLE and track.quiet_until <= window]
        for key in ended:
            del state.tracks[key]


_IDLE_TRACK = Track()


def _copy(tally: Tally) -> Tally:
    copy = Tally()
    copy.merge(tally)
    return copy

