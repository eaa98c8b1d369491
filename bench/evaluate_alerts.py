"""Evaluation of the spike detector on simulated traffic: false alerts, detection rate, delay.

Runs the simulator, the Ingestor (decoding, case timelines, tracing: the stream worker's code)
and the SpikeDetector offline, all seeded, and prints the tables recorded in docs/alerts.md.

    .venv/bin/python bench/evaluate_alerts.py            # everything (~15 min on 2 cores, first run)
    .venv/bin/python bench/evaluate_alerts.py --quick    # a smoke run (~3 min)
    .venv/bin/python bench/evaluate_alerts.py --synthetic  # experiment 2b alone (~3 min, no simulation)

Experiments:
1. False alerts: normal national traffic, all 31 mainland provinces and every matter of the
   catalog, 3 warm-up days then 7 measured days. Every firing alert there is false.
2. A rise at one key, as the detector sees it (the acceptance test: "a 3x rise at a key with
   >= 30 ratings per window is detected within 2 windows"). Worlds of one busy matter (社保参保证明
   between 上海 and 安徽) are simulated at 30 to 480 ratings per key and 6-hour window; from a
   window boundary on, each rating of one key becomes a complaint with the probability that
   multiplies the key's own complaint rate by 1.5, 2, 3 or 5. The detector keeps no state across
   steps, so a trial replays only its key's step, from a snapshot (encode/decode) at the onset.
2b. The same rise with binomial traffic at one key (`--synthetic`): exactly 30, 40 or 60 ratings
   per window at 安徽's data lookup for 社保参保证明, complaint rates of 2-25% (whole complaints,
   and complaints weighing 0.7), three weeks of warm-up among the other matters of that province
   and step, then a 3x rise; and the same worlds without it, for false alerts. This shows at which
   rates the detector itself, not only the best possible test, meets the acceptance criterion.
3. Incidents in the simulator itself: a step fails `factor` times as often from a moment on. The
   extra complaints arrive as the affected cases finish and their citizens rate, hours to days
   later, and not every failure becomes a complaint: this is the delay an office would see.
Then a trade-off grid: each variant of the defaults against experiments 1 and 2 (3x rise).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import pickle
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from haochaping.alerts import Alert, DetectorConfig, SpikeDetector
from haochaping.alerts.stats import upper_tail
from haochaping.backtest import CASES_TOPIC, KIND_OF_TOPIC, RATINGS_TOPIC
from haochaping.catalog import Catalog, default_catalog
from haochaping.codes import PROVINCES, StepKind
from haochaping.ingest import Ingestor, Message
from haochaping.observations import StepObservation
from haochaping.simulation import DEFAULT_START, Incident, SimulationConfig, Simulator

MAINLAND = tuple(code for code in PROVINCES if code not in ("710000", "810000", "820000"))
# New cases an hour nationally (the simulator's default is 600 over 12 provinces). At 1,500 over
# all 31 provinces, 80% of citizens rating, the busiest keys get about 80 ratings per 6-hour window.
NATIONAL_CASES_PER_HOUR = 1500.0
WARMUP_DAYS = 3  # cases take days to finish and be rated: the simulator needs this to fill up
MEASURED_DAYS = 7
FACTORS = (1.5, 2.0, 3.0, 5.0)
# Ratings per 6-hour window at the world's busy keys; the world's cases an hour are this / 3.35.
VOLUMES = (30, 60, 120, 240, 480, 960)
RATINGS_PER_CASE_HOUR = 3.35
WORLD_MATTER = "HCP-RS-CBZM"
WORLD_PROVINCES = ("310000", "340000")
HORIZON_HOURS = 48  # a rise not detected within two days counts as missed
SPARE = 10  # extra draws per row, for trials whose key already had an alert open at the onset
MIN_BASE_RATE = 0.005  # rises are tested at keys with at least this complaint rate
INCIDENT_WARMUP_DAYS = 2  # enough for the detector's warm-up in a world of one or a few matters
INCIDENT_HOURS = 72
BATCH = 20_000

Batches = list[list[StepObservation]]
Key = tuple[str, str, str]


# -- tracing simulated traffic -----------------------------------------------------------------


def traced(catalog: Catalog, config: SimulationConfig, days: float) -> Batches:
    """Step observations of `days` of simulated traffic, batch by batch as the worker would see them."""
    ingestor = Ingestor(KIND_OF_TOPIC, b"bench", default_catalog())
    timelines: dict[bytes, bytes] = {}
    end = config.start + timedelta(days=days)
    batches: Batches = []
    batch: list[Message] = []
    for offset, event in enumerate(Simulator(catalog, config).events()):
        if event.at >= end:
            break
        topic = RATINGS_TOPIC if event.kind == "rating" else CASES_TOPIC
        value = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        batch.append(Message(topic, 0, offset, None, value))
        if len(batch) >= BATCH:
            batches.append(ingestor.process(batch, timelines).observations)
            batch = []
    if batch:
        batches.append(ingestor.process(batch, timelines).observations)
    return batches


def cached(cache: Path | None, name: str, make: Callable[[], Batches]) -> Batches:
    path = cache / f"{name}.pickle" if cache is not None else None
    if path is not None and path.exists():
        with path.open("rb") as file:
            loaded: Batches = pickle.load(file)
            return loaded
    batches = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            pickle.dump(batches, file, protocol=pickle.HIGHEST_PROTOCOL)
    return batches


def national(job: tuple[int, int, float, Path | None]) -> Batches:
    seed, days, cases_per_hour, cache = job
    config = SimulationConfig(seed=seed, provinces=MAINLAND, cases_per_hour=cases_per_hour)
    return cached(cache, f"national-{seed}-{days}d-{cases_per_hour:g}",
                  lambda: traced(default_catalog(), config, days))


def world_catalog(matters: Sequence[str]) -> Catalog:
    catalog = default_catalog()
    return Catalog({code: catalog.matters[code] for code in matters}, catalog.generic)


def world(job: tuple[int, int, int, Path | None]) -> Batches:
    """社保参保证明 between 上海 and 安徽, busy enough for `volume` ratings per key and 6 hours."""
    volume, seed, days, cache = job
    config = SimulationConfig(seed=seed, provinces=WORLD_PROVINCES, cases_per_hour=volume / RATINGS_PER_CASE_HOUR)
    return cached(cache, f"world-{volume}-{seed}-{days}d",
                  lambda: traced(world_catalog((WORLD_MATTER,)), config, days))


def detect(batches: Iterable[Sequence[StepObservation]], config: DetectorConfig) -> list[Alert]:
    """The worker's loop: observe a batch, advance the watermark, collect alerts; finish at the end."""
    detector = SpikeDetector(config)
    alerts: list[Alert] = []
    for batch in batches:
        detector.observe_all(batch)
        alerts += detector.advance()
    return alerts + detector.finish()


def flatten(batches: Batches) -> list[StepObservation]:
    return [observation for batch in batches for observation in batch]


# -- experiment 1: false alerts ----------------------------------------------------------------


@dataclass(frozen=True)
class FalseAlerts:
    per_day: float
    firing: int
    keys: list[str]


def false_alerts(alerts: list[Alert], measured_from: datetime, days: int) -> FalseAlerts:
    firing = [alert for alert in alerts if alert.state == "firing" and alert.window_end > measured_from]
    keys = [f"{alert.province}/{alert.matter_code or '*'}/{alert.step} ({alert.window_start:%m-%d %H}h)"
            for alert in firing]
    return FalseAlerts(len(firing) / days, len(firing), keys)


# -- experiment 2: a rise at one key -------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    volume: int
    factor: float
    seed: int
    key: Key
    onset: float  # epoch seconds, a window boundary
    base_rate: float


@dataclass(frozen=True)
class Outcome:
    trial: Trial
    delay: int | None  # windows from the onset to the end of the alert's last window
    pooled: bool
    ratings_per_window: float
    busy: bool = False  # the key already had an alert open (or cooling) at the onset: not a test
    elsewhere: int = 0  # firing alerts at other keys of the step while the rise was watched


class RiseBench:
    """Rises injected at one key of a traced run; per step, trials replay from snapshots at their onsets."""

    def __init__(self, observations: list[StepObservation], measured_from: datetime) -> None:
        self.by_step: dict[str, list[StepObservation]] = defaultdict(list)
        self.totals: dict[Key, list[float]] = defaultdict(lambda: [0, 0.0])
        self.start = measured_from.timestamp()
        self.end = observations[-1].at.timestamp()
        for observation in observations:
            self.by_step[observation.step].append(observation)
            if observation.at.timestamp() >= self.start:
                total = self.totals[(observation.province, observation.matter_code, observation.step)]
                total[0] += 1
                total[1] += observation.weight

    def busiest(self, share: float = 0.8) -> list[Key]:
        """Keys within `share` of the busiest volume whose complaint rate is worth testing."""
        top = max(n for n, _ in self.totals.values())
        return sorted(key for key, (n, negatives) in self.totals.items()
                      if n >= share * top and negatives / n >= MIN_BASE_RATE)

    def trials(self, config: DetectorConfig, volume: int, factors: Sequence[float], seeds: int) -> list[Trial]:
        window = config.window_seconds
        offset = config.window_origin_offset.total_seconds()
        first = int((self.start + offset) // window) + 1
        last = int((self.end + offset) // window) - _horizon(config) - 1
        keys = self.busiest()
        result = []
        for factor in factors:
            for seed in range(seeds):
                rng = random.Random(f"{volume}-{factor}-{seed}")
                key = rng.choice(keys)
                onset = rng.randint(first, last) * window - offset
                n, negatives = self.totals[key]
                result.append(Trial(volume, factor, seed, key, onset, negatives / n))
        return result

    def run(self, config: DetectorConfig, trials: list[Trial]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for step in sorted({trial.key[2] for trial in trials}):
            observations = self.by_step[step]
            mine = [trial for trial in trials if trial.key[2] == step]
            snapshots = _snapshots(config, observations, sorted({trial.onset for trial in mine}))
            outcomes += [_trial(config, observations, snapshots[trial.onset], trial) for trial in mine]
        return outcomes


def _snapshots(config: DetectorConfig, observations: list[StepObservation], onsets: list[float]) -> dict[float, bytes]:
    detector = SpikeDetector(config)
    snapshots: dict[float, bytes] = {}
    waiting = list(onsets)
    for observation in observations:
        while waiting and observation.at.timestamp() >= waiting[0]:
            detector.advance(datetime.fromtimestamp(waiting[0], UTC))
            snapshots[waiting.pop(0)] = detector.encode()
        if not waiting:
            break
        detector.observe(observation)
    return snapshots


def _trial(config: DetectorConfig, observations: list[StepObservation], snapshot: bytes, trial: Trial) -> Outcome:
    detector = SpikeDetector.decode(snapshot, config)
    province, matter, step = trial.key
    if detector.status(province, matter, step) != "idle":
        return Outcome(trial, None, False, 0.0, busy=True)
    window = config.window_seconds
    horizon = _horizon(config)
    stop = trial.onset + horizon * window
    rng = random.Random(f"rise-{trial.volume}-{trial.factor}-{trial.seed}")
    share = (trial.factor - 1.0) * trial.base_rate / (1.0 - trial.base_rate)
    ratings = 0
    for observation in observations[_first_at(observations, trial.onset):]:
        if observation.at.timestamp() >= stop:
            break
        if (observation.province, observation.matter_code) == (province, matter):
            ratings += 1
            if rng.random() < share:
                observation = replace(observation, weight=1.0, reason="DATA_NOT_SHARED")
        detector.observe(observation)
    alerts = [
        alert for alert in detector.advance(datetime.fromtimestamp(stop, UTC) + config.allowed_lateness)
        if alert.state == "firing" and alert.window_end.timestamp() > trial.onset
    ]
    right = [alert for alert in alerts
             if (alert.province, alert.step) == (province, step) and alert.matter_code in (matter, None)]
    elsewhere = len(alerts) - len(right)
    if right:
        delay = round((right[0].window_end.timestamp() - trial.onset) / window)
        return Outcome(trial, delay, right[0].matter_code is None, ratings / horizon, elsewhere=elsewhere)
    return Outcome(trial, None, False, ratings / horizon, elsewhere=elsewhere)


def _horizon(config: DetectorConfig) -> int:
    return max(2, HORIZON_HOURS * 3600 // config.window_seconds)


def _first_at(observations: list[StepObservation], moment: float) -> int:
    low, high = 0, len(observations)
    while low < high:
        middle = (low + high) // 2
        if observations[middle].at.timestamp() < moment:
            low = middle + 1
        else:
            high = middle
    return low


# -- experiment 2b: binomial traffic at one key, at the complaint rates the bound needs --------

# 安徽's data lookup for 社保参保证明: the key whose complaint rate each row sets.
SYNTHETIC_KEY: Key = ("340000", WORLD_MATTER, "DATA_SHARE")
SYNTHETIC_RATES = (0.02, 0.05, 0.10, 0.13, 0.15, 0.20, 0.25)
SYNTHETIC_VOLUMES = (30, 40, 60)
# Tracing often splits a complaint between steps: in these rows every complaint at the key weighs this.
SYNTHETIC_WEIGHT = 0.7
SYNTHETIC_WARMUP_DAYS = 21  # three weeks: the key's baseline then weighs ~1,100 ratings at 30 a window
SYNTHETIC_QUIET_FROM_DAY = 7  # false alerts are counted from the second week on
SYNTHETIC_START = DEFAULT_START.replace(hour=0)  # midnight Beijing time, a window boundary
SYNTHETIC_ORG = "340000-RSJ-SJ"
# The other matters of 安徽's data lookup as experiment 1's national traffic has them (seed 1, its 7
# measured days): mean ratings per 6-hour window and complaint rate. Their windows are drawn around
# these (Poisson ratings, whole complaints), so the (province, step) parent and the pool of the thin
# matters behave as in production. Other provinces only feed the step's national rate, the parent's
# prior (100 ratings against the province's thousands): they are left out.
SYNTHETIC_NEIGHBOURS: tuple[tuple[str, float, float], ...] = (
    ("HCP-YB-JYBA", 70.2, 0.0211),
    ("HCP-GJJ-ZYTQ", 30.6, 0.0208),
    ("HCP-RS-JYSY", 24.9, 0.0277),
    ("HCP-JG-JZHZ", 14.7, 0.0360),
    ("HCP-SJ-YXBG", 7.1, 0.0215),
    ("HCP-MZ-HYDJ", 6.6, 0.0123),
    ("HCP-YB-GXZY", 1.7, 0.0534),
    ("HCP-RS-YLZY", 0.7, 0.0720),
)


@dataclass(frozen=True)
class SyntheticTrial:
    volume: int  # ratings of the key in every window, exactly
    rate: float  # the key's complaint rate before the rise: sum(weight) / ratings
    weight: float  # of every complaint at the key
    seed: int
    factor: float = 3.0


@dataclass(frozen=True)
class SyntheticOutcome:
    trial: SyntheticTrial
    busy: bool  # the key was pending, firing or cooling at the onset: not a test (replaced, as in experiment 2)
    delay: int | None  # windows from the onset to the end of the alert's last window, as in experiment 2
    alert: Alert | None  # the first firing alert naming the key's province and step (its matter or the pool)
    first: str  # the key's status once the first window of the rise is closed: idle, pending or firing
    elsewhere: int  # firing alerts at other keys while the rise was watched
    false_key: int  # firing alerts at the key in the same world without the rise, measured days
    false_all: int  # ... at any key of the world
    days: float  # measured days for the false alerts


def synthetic_run(trial: SyntheticTrial, config: DetectorConfig) -> SyntheticOutcome:
    """One seeded world: three weeks at the key's rate, then the same world with and without the rise.

    Every window the key gets exactly `volume` ratings, each a complaint of `weight` with the
    probability rate / weight; from the onset (a window boundary) that probability is `factor`
    times as high. The rise and its absence use the same random numbers, the neighbours the same
    traffic, and both continue from one snapshot of the detector (encode/decode, as the worker
    restores it) taken when the last warm-up window is closed.
    """
    province, matter, step = SYNTHETIC_KEY
    per_day = 86_400 // config.window_seconds
    onset, horizon = SYNTHETIC_WARMUP_DAYS * per_day, _horizon(config)
    quiet_from = SYNTHETIC_QUIET_FROM_DAY * per_day
    onset_at = SYNTHETIC_START + onset * config.window
    chance = trial.rate / trial.weight
    # The key's random numbers depend on the volume and seed only: the rows of a volume differ in the rate alone.
    draws = random.Random(f"synthetic-{trial.volume}-{trial.seed}")
    background = random.Random(f"synthetic-background-{trial.seed}")
    normal = SpikeDetector(config)
    risen: SpikeDetector | None = None
    busy, delay, found, first, elsewhere, false_key, false_all = False, None, None, "", 0, 0, 0
    for index in range(onset + horizon):
        begin = SYNTHETIC_START + index * config.window
        close = begin + config.window + config.allowed_lateness
        uniforms = [draws.random() for _ in range(trial.volume)]
        others = _neighbours(background, begin, index)
        complaints = sum(1 for uniform in uniforms if uniform < chance)
        normal.observe_all(_cell(matter, begin, trial.volume, complaints, trial.weight, f"n{index}") + others)
        for alert in normal.advance(close):
            if alert.state == "firing" and index >= quiet_from:
                false_all += 1
                false_key += (alert.province, alert.matter_code, alert.step) == SYNTHETIC_KEY
        if risen is not None:
            raised = sum(1 for uniform in uniforms if uniform < trial.factor * chance)
            risen.observe_all(_cell(matter, begin, trial.volume, raised, trial.weight, f"r{index}") + others)
            for alert in risen.advance(close):
                if alert.state != "firing":
                    continue
                if (alert.province, alert.step) == (province, step) and alert.matter_code in (matter, None):
                    if found is None:
                        found = alert
                        delay = round((alert.window_end - onset_at).total_seconds() / config.window_seconds)
                else:
                    elsewhere += 1
            if index == onset:
                first = risen.status(*SYNTHETIC_KEY)
        if index == onset - 1:
            busy = normal.status(*SYNTHETIC_KEY) != "idle"
            snapshot = normal.encode()
            normal, risen = SpikeDetector.decode(snapshot, config), SpikeDetector.decode(snapshot, config)
    days = (onset + horizon - quiet_from) / per_day
    return SyntheticOutcome(trial, busy, delay, found, first, elsewhere, false_key, false_all, days)


def _cell(
    matter: str, begin: datetime, ratings: int, complaints: int, weight: float, tag: str
) -> list[StepObservation]:
    """One window of one matter at 安徽's data lookup: `complaints` of its `ratings` weigh `weight`."""
    province, _, step = SYNTHETIC_KEY
    fine = StepObservation(f"{matter}-{tag}", begin + timedelta(hours=1), province, matter, "online", step,
                           "DATA_PROVIDER", SYNTHETIC_ORG, 5, 0.0, None, None)
    # The detector counts observations, so the positive ones may share one object.
    negative = [replace(fine, rating_id=f"{matter}-{tag}-{number}", level=1, weight=weight, reason="DATA_NOT_SHARED")
                for number in range(complaints)]
    return negative + [fine] * (ratings - complaints)


def _neighbours(rng: random.Random, begin: datetime, index: int) -> list[StepObservation]:
    observations: list[StepObservation] = []
    for matter, mean, rate in SYNTHETIC_NEIGHBOURS:
        ratings = _poisson(rng, mean)
        complaints = sum(1 for _ in range(ratings) if rng.random() < rate)
        observations += _cell(matter, begin, ratings, complaints, 1.0, f"n{index}")
    return observations


def _poisson(rng: random.Random, mean: float) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def synthetic_rows(
    volumes: Sequence[int] = SYNTHETIC_VOLUMES,
    rates: Sequence[float] = SYNTHETIC_RATES,
    weights: Sequence[float] = (1.0, SYNTHETIC_WEIGHT),
    factor: float = 3.0,
) -> list[tuple[int, float, float]]:
    """(ratings per window, rate, complaint weight) of the rows of experiment 2b.

    Whole complaints at every volume and rate; fractional ones at the first volume only, at the
    rates where the risen share of complaining ratings (factor * rate / weight) stays possible.
    """
    rows = []
    for weight in weights:
        for volume in volumes if weight == 1.0 else volumes[:1]:
            rows += [(volume, rate, weight) for rate in rates if factor * rate <= weight]
    return rows


def synthetic(job: tuple[int, float, float, int, DetectorConfig]) -> list[SyntheticOutcome]:
    """A row's worlds: `runs` seeds, and spares for the draws whose key was busy at the onset."""
    volume, rate, weight, runs, config = job
    spares = max(SPARE, runs // 4)
    return [synthetic_run(SyntheticTrial(volume, rate, weight, seed), config) for seed in range(runs + spares)]


# -- experiment 3: incidents in the simulator ---------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    matters: tuple[str, ...]  # the simulated world: these matters between 上海 and 安徽
    cases_per_hour: float
    incident_matter: str | None  # None: 安徽's data lookups fail for every matter
    expect_matter: str | None  # the key that should fire; None = the pooled key
    factors: tuple[float, ...] = FACTORS
    many_seeds_at_3x: bool = False  # the busy key gets twice the seeds at 3x


THIN = ("HCP-SJ-YXBG", "HCP-YB-GXZY", "HCP-RS-YLZY", "HCP-MZ-HYDJ", "HCP-JG-JZHZ")
# 安徽 (340000) answers the data lookup (DATA_SHARE) of cases handed in at 上海.
SCENARIOS = (
    Scenario("社保参保证明, ~240 ratings/window", (WORLD_MATTER,), 240 / RATINGS_PER_CASE_HOUR, WORLD_MATTER,
             WORLD_MATTER, many_seeds_at_3x=True),
    Scenario("5 thin matters, all failing (pooled)", THIN, 48.0, None, None, (3.0, 5.0)),
    Scenario("1 thin matter failing (pooled)", THIN, 48.0, "HCP-SJ-YXBG", None, (5.0,)),
)


@dataclass(frozen=True)
class IncidentOutcome:
    scenario: str
    factor: float
    seed: int
    delay_hours: float | None  # from the incident's start to the alert (its last window's end + lateness)
    right_key: bool
    other_alerts: int
    ratings_per_window: float


def incident_run(job: tuple[Scenario, float, int, DetectorConfig]) -> IncidentOutcome:
    scenario, factor, seed, config = job
    start = DEFAULT_START + timedelta(days=INCIDENT_WARMUP_DAYS, hours=random.Random(seed).randint(0, 23))
    incident = Incident("340000", StepKind.DATA_SHARE, start, None, factor, scenario.incident_matter)
    simulation = SimulationConfig(
        seed=seed, provinces=WORLD_PROVINCES, cases_per_hour=scenario.cases_per_hour, incidents=(incident,)
    )
    batches = traced(world_catalog(scenario.matters), simulation, INCIDENT_WARMUP_DAYS + 1 + INCIDENT_HOURS / 24)
    alerts = detect(batches, config)
    stop = start + timedelta(hours=INCIDENT_HOURS)
    ratings = sum(
        1 for batch in batches for observation in batch
        if (observation.province, observation.step) == ("340000", "DATA_SHARE")
        and scenario.incident_matter in (None, observation.matter_code)
        and start <= observation.at < stop
    )
    per_window = ratings / (INCIDENT_HOURS * 3600 / config.window_seconds)
    found: Alert | None = None
    others = 0
    for alert in alerts:
        if alert.state != "firing":
            continue
        right = (alert.province, alert.step) == ("340000", "DATA_SHARE") and (
            scenario.incident_matter is None or alert.matter_code in (scenario.expect_matter, scenario.incident_matter))
        if right and found is None and start < alert.window_end <= stop:
            found = alert
        elif not right or alert.window_end <= start:
            others += 1
    if found is None:
        return IncidentOutcome(scenario.name, factor, seed, None, False, others, per_window)
    hours = (found.window_end + config.allowed_lateness - start).total_seconds() / 3600
    named = scenario.incident_matter is None or found.matter_code == scenario.expect_matter
    return IncidentOutcome(scenario.name, factor, seed, hours, named, others, per_window)


# -- the trade-off grid ------------------------------------------------------------------------


def variants(default: DetectorConfig) -> list[tuple[str, DetectorConfig]]:
    def windowed(hours: int) -> DetectorConfig:
        per_day = 24 // hours  # keep the baseline's memory and the cool-down in days
        return replace(default, window=timedelta(hours=hours), half_life_windows=7 * per_day,
                       cooldown_windows=per_day)

    return [
        ("defaults", default),
        ("1 h windows", windowed(1)),
        ("3 h windows", windowed(3)),
        ("12 h windows", windowed(12)),
        ("24 h windows", windowed(24)),
        ("alpha 1e-4", replace(default, alpha=1e-4)),
        ("alpha 1e-2", replace(default, alpha=1e-2)),
        ("trigger_alpha 0.2", replace(default, trigger_alpha=0.2)),
        ("trigger_alpha 0.01", replace(default, trigger_alpha=0.01)),
        ("pending 1 window", replace(default, pending_windows=1)),
        ("pending 3 windows", replace(default, pending_windows=3, max_pending_windows=3)),
        ("max_pending_windows 4", replace(default, max_pending_windows=4)),
        ("max_pending_windows 8", replace(default, max_pending_windows=8)),
        ("half_life_windows 56", replace(default, half_life_windows=56.0)),
        ("min_ratio 1.2", replace(default, min_ratio=1.2)),
        ("prior_strength 25", replace(default, prior_strength=25.0)),
        ("max_strength 1000", replace(default, max_strength=1000.0)),
        ("max_strength 20000", replace(default, max_strength=20000.0)),
    ]


# Set before the pool forks, so workers share them instead of receiving copies.
_NATIONAL: Batches = []
_RISE_WORLD: list[StepObservation] = []


def tradeoff(job: tuple[str, DetectorConfig, datetime, int]) -> tuple[str, FalseAlerts, list[Outcome], float]:
    name, config, measured_from, seeds = job
    found = false_alerts(detect(_NATIONAL, config), measured_from, MEASURED_DAYS)
    bench = RiseBench(_RISE_WORLD, measured_from)
    outcomes = usable(bench.run(config, bench.trials(config, 240, (3.0,), seeds + SPARE)), seeds)
    return name, found, outcomes, config.window_seconds / 3600


# -- reporting --------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):g}" if values else "-"


def best_possible(ratings: int, base_rate: float, factor: float, alpha: float) -> float:
    """Power of the one-sided binomial test of two windows together at `alpha`, knowing the baseline exactly.

    No detector that looks at two windows and is wrong at most `alpha` of the time per test can
    do better; it shows where a miss is the data's fault rather than the detector's.
    """
    total = 2 * ratings
    needed = next(k for k in range(total + 2) if upper_tail(k, total, base_rate) <= alpha)
    return upper_tail(needed, total, min(1.0, factor * base_rate))


def usable(outcomes: list[Outcome], runs: int) -> list[Outcome]:
    """The first `runs` trials per rise and volume whose key had no alert open at the onset.

    A key already alerting (a false alert just before, or its cool-down) cannot alert again for
    the rise, by design; such draws are replaced by spare ones so every row has `runs` tests.
    """
    kept: list[Outcome] = []
    counts: dict[tuple[float, int], int] = defaultdict(int)
    for outcome in sorted(outcomes, key=lambda item: (item.trial.factor, item.trial.volume, item.trial.seed)):
        group = (outcome.trial.factor, outcome.trial.volume)
        if not outcome.busy and counts[group] < runs:
            counts[group] += 1
            kept.append(outcome)
    return kept


def rise_table(outcomes: list[Outcome], alpha: float) -> list[str]:
    rows = [
        "| rise | ratings/window (mean) | baseline 差评/window | runs | within 2 windows | best possible | "
        "within 48 h | median delay | max delay | pooled | other keys |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[float, int], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if not outcome.busy:
            groups[(outcome.trial.factor, outcome.trial.volume)].append(outcome)
    for (factor, volume), group in sorted(groups.items()):
        delays = [outcome.delay for outcome in group if outcome.delay is not None]
        within = sum(1 for delay in delays if delay <= 2)
        mean = statistics.mean(outcome.ratings_per_window for outcome in group)
        expected = statistics.mean(outcome.ratings_per_window * outcome.trial.base_rate for outcome in group)
        base = statistics.mean(outcome.trial.base_rate for outcome in group)
        bound = best_possible(round(mean), base, factor, alpha)
        rows.append(
            f"| {factor:g}x | ~{volume} ({mean:.0f}) | {expected:.2f} | {len(group)} | {within / len(group):.0%} | "
            f"{bound:.0%} | {len(delays) / len(group):.0%} | {_median(delays)} | {max(delays) if delays else '-'} | "
            f"{sum(outcome.pooled for outcome in group)} | {sum(outcome.elsewhere for outcome in group)} |"
        )
    return rows


def synthetic_table(outcomes: list[SyntheticOutcome], runs: int, alpha: float) -> list[str]:
    rows = [
        "| rate at the key | complaint weight | ratings/window | baseline 差评/window | runs | within 2 windows | "
        "best possible | within 48 h | median delay | window 1: triggered / fired | other keys | "
        "named the matter | false alerts / day, all keys | false alerts / day at the key |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    matter = SYNTHETIC_KEY[1]
    groups: dict[tuple[float, int, float], list[SyntheticOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.trial.weight, outcome.trial.volume, outcome.trial.rate)].append(outcome)
    for (weight, volume, rate), group in sorted(groups.items(), key=lambda item: (-item[0][0], *item[0][1:])):
        group.sort(key=lambda outcome: outcome.trial.seed)
        # Detection: the first `runs` worlds whose key was idle at the onset. False alerts: the first
        # `runs` worlds whatever happened at the onset, so that no world is left out for alerting.
        tests = [outcome for outcome in group if not outcome.busy][:runs]
        worlds = group[:runs]
        delays = [outcome.delay for outcome in tests if outcome.delay is not None]
        within = sum(1 for delay in delays if delay <= 2)
        triggered = sum(1 for outcome in tests if outcome.first != "idle")
        fired = sum(1 for outcome in tests if outcome.first == "firing")
        named = sum(1 for outcome in tests if outcome.alert is not None and outcome.alert.matter_code == matter)
        days = sum(outcome.days for outcome in worlds)
        bound = best_possible(volume, rate / weight, group[0].trial.factor, alpha)
        rows.append(
            f"| {rate:.0%} | {weight:g} | {volume} | {volume * rate:.1f} | {len(tests)} | "
            f"{within / len(tests):.0%} ({within}) | "
            f"{bound:.0%} | {len(delays) / len(tests):.0%} | {_median(delays)} | "
            f"{triggered / len(tests):.0%} / {fired / len(tests):.0%} | {sum(o.elsewhere for o in tests)} | "
            f"{named}/{len(delays)} | "
            f"{sum(o.false_all for o in worlds) / days:.2f} | {sum(o.false_key for o in worlds) / days:.3f} |"
        )
    return rows


def incident_table(outcomes: list[IncidentOutcome]) -> list[str]:
    rows = [
        f"| scenario | factor | runs | ratings/window at the key | detected in {INCIDENT_HOURS} h | "
        "median delay h | max delay h | right key | other alerts |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, float], list[IncidentOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.scenario, outcome.factor)].append(outcome)
    for (name, factor), group in groups.items():
        hours = [outcome.delay_hours for outcome in group if outcome.delay_hours is not None]
        volume = statistics.mean(outcome.ratings_per_window for outcome in group)
        rows.append(
            f"| {name} | {factor:g}x | {len(group)} | {volume:.0f} | {len(hours) / len(group):.0%} | "
            f"{_median(hours)} | {f'{max(hours):g}' if hours else '-'} | "
            f"{sum(outcome.right_key for outcome in group)}/{len(hours)} | {sum(o.other_alerts for o in group)} |"
        )
    return rows


def tradeoff_table(results: list[tuple[str, FalseAlerts, list[Outcome], float]]) -> list[str]:
    rows = [
        "| variant | false alerts / day | 3x within 2 windows | within 48 h | median delay (h) |",
        "|---|---|---|---|---|",
    ]
    for name, found, all_outcomes, hours in results:
        outcomes = [outcome for outcome in all_outcomes if not outcome.busy]
        delays = [outcome.delay for outcome in outcomes if outcome.delay is not None]
        within = sum(1 for delay in delays if delay <= 2) / len(outcomes) if outcomes else 0.0
        median = _median([delay * hours for delay in delays])
        rows.append(f"| {name} | {found.per_day:.2f} | {within:.0%} | {len(delays) / max(1, len(outcomes)):.0%} | "
                    f"{median} |")
    return rows


# -- main -------------------------------------------------------------------------------------


def _parallel(function: Callable[[Any], Any], jobs: list[Any], processes: int) -> list[Any]:
    if processes <= 1 or len(jobs) <= 1:
        return [function(job) for job in jobs]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return pool.map(function, jobs, chunksize=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated traffic (default 1)")
    parser.add_argument("--seeds", type=int, default=20, help="runs per rise and volume (default 20)")
    parser.add_argument("--incident-seeds", type=int, default=5,
                        help="end-to-end runs per scenario and factor (the busy key gets twice as many at 3x)")
    parser.add_argument("--national-cases-per-hour", type=float, default=NATIONAL_CASES_PER_HOUR)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 measured days, few seeds")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "hcp-evaluate-alerts"),
                        help="where traced normal traffic is kept between runs ('' for none)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["false", "rise", "synthetic", "incidents", "tradeoff"])
    parser.add_argument("--synthetic", action="store_true",
                        help="only experiment 2b: binomial traffic at one key (needs no simulated traffic)")
    parser.add_argument("--synthetic-runs", type=int, default=100, help="worlds per row of experiment 2b")
    parser.add_argument("--synthetic-volumes", type=_numbers(int), default=SYNTHETIC_VOLUMES,
                        help="experiment 2b: ratings per window at the key, comma-separated (default 30,40,60)")
    parser.add_argument("--synthetic-rates", type=_numbers(float), default=SYNTHETIC_RATES,
                        help="experiment 2b: complaint rates at the key before the rise (default 0.02,...,0.25)")
    parser.add_argument("--synthetic-weights", type=_numbers(float), default=(1.0, SYNTHETIC_WEIGHT),
                        help="experiment 2b: weight of each complaint at the key (default 1,0.7)")
    args = parser.parse_args(argv)
    global MEASURED_DAYS
    seeds, incident_seeds, cases_per_hour = args.seeds, args.incident_seeds, args.national_cases_per_hour
    synthetic_runs = args.synthetic_runs
    if args.quick:
        MEASURED_DAYS, seeds, incident_seeds, cases_per_hour = 2, 5, 2, min(cases_per_hour, 600.0)
        synthetic_runs = min(synthetic_runs, 10)
    cache = Path(args.cache) if args.cache else None
    config = DetectorConfig()
    started = time.perf_counter()
    days = WARMUP_DAYS + MEASURED_DAYS
    measured_from = DEFAULT_START.replace(hour=0) + timedelta(days=WARMUP_DAYS)

    def say(text: str) -> None:
        print(text, flush=True)

    def progress(text: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {text}", file=sys.stderr, flush=True)

    def run_synthetic() -> None:
        progress("experiment 2b: binomial traffic at one key")
        rows = synthetic_rows(args.synthetic_volumes, args.synthetic_rates, args.synthetic_weights)
        jobs = [(volume, rate, weight, synthetic_runs, config) for volume, rate, weight in rows]
        found = [outcome for row in _parallel(synthetic, jobs, args.jobs) for outcome in row]
        say(f"## 2b. A 3x rise at one key with binomial traffic ({'/'.join(map(str, args.synthetic_volumes))} ratings "
            f"per window, {SYNTHETIC_WARMUP_DAYS} days warm-up, {synthetic_runs} seeded worlds a row)\n")
        say("\n".join(synthetic_table(found, synthetic_runs, config.alpha)) + "\n")

    if args.synthetic:
        run_synthetic()
        progress("done")
        return 0

    progress(f"simulating and tracing: national traffic ({cases_per_hour:g} cases/h, {days} days) and "
             f"{len(VOLUMES)} worlds of one busy matter")
    traffic = _parallel(
        _make_traffic,
        [("national", (args.seed, days, cases_per_hour, cache))]
        + [("world", (volume, args.seed, days, cache)) for volume in VOLUMES],
        args.jobs,
    )
    batches: Batches = traffic[0]
    worlds = dict(zip(VOLUMES, traffic[1:], strict=True))
    observations = flatten(batches)
    say(f"## National traffic (seed {args.seed})\n\n{len(MAINLAND)} provinces, every matter, {cases_per_hour:g} new "
        f"cases an hour, {days} simulated days ({WARMUP_DAYS} warm-up): "
        f"{len({observation.rating_id for observation in observations}):,} traced ratings with a case timeline, "
        f"{len(observations):,} step observations.\n")

    if "false" not in args.skip:
        progress("experiment 1: false alerts")
        found = false_alerts(detect(batches, config), measured_from, MEASURED_DAYS)
        say(f"## 1. False alerts on normal traffic ({MEASURED_DAYS} measured days, defaults)\n\n"
            f"{found.firing} firing alerts = **{found.per_day:.2f} per simulated day**: "
            f"{', '.join(found.keys) or '-'}\n")

    if "rise" not in args.skip:
        progress("experiment 2: rises at one key")
        outcomes: list[Outcome] = []
        for volume, traced_world in worlds.items():
            bench = RiseBench(flatten(traced_world), measured_from)
            outcomes += bench.run(config, bench.trials(config, volume, FACTORS, seeds + SPARE))
        outcomes = usable(outcomes, seeds)
        say(f"## 2. A rise at one key ({config.window_seconds // 3600} h windows, onset at a window boundary, "
            f"{seeds} seeded runs each)\n")
        say("\n".join(rise_table(outcomes, config.alpha)) + "\n")

    if "synthetic" not in args.skip:
        run_synthetic()

    if "incidents" not in args.skip:
        progress("experiment 3: incidents in the simulator")
        jobs = [
            (scenario, factor, args.seed * 1000 + number, config)
            for scenario in SCENARIOS
            for factor in scenario.factors
            for number in range(incident_seeds * (2 if scenario.many_seeds_at_3x and factor == 3.0 else 1))
        ]
        say("## 3. Incidents in the simulator, end to end (delay from the incident's start)\n")
        say("\n".join(incident_table(_parallel(incident_run, jobs, args.jobs))) + "\n")

    if "tradeoff" not in args.skip:
        progress("trade-off grid")
        _NATIONAL[:] = batches
        _RISE_WORLD[:] = flatten(worlds[240])
        grid = [(name, variant, measured_from, seeds) for name, variant in variants(config)]
        say("## Trade-off: false alerts (experiment 1) against a 3x rise at ~240 ratings per 6 h (experiment 2)\n")
        say("\n".join(tradeoff_table(_parallel(tradeoff, grid, args.jobs))) + "\n")
    progress("done")
    return 0


def _numbers(kind: Callable[[str], float]) -> Callable[[str], tuple[float, ...]]:
    def parse(text: str) -> tuple[float, ...]:
        return tuple(kind(item) for item in text.split(",") if item.strip())

    return parse


def _make_traffic(job: tuple[str, Any]) -> Batches:
    kind, arguments = job
    return national(arguments) if kind == "national" else world(arguments)


if __name__ == "__main__":
    sys.exit(main())
