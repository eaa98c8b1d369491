"""The simulator: an endless, deterministic stream of case events and ratings in event-time order.

Cases arrive at office-hour-weighted random times and overlap for days; a heap holds each open
case at its next event time, so memory grows with the cases in flight, not with their events.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from itertools import count
from typing import Generic, TypeVar

from haochaping.catalog import Catalog, Process, StepSpec
from haochaping.codes import Mode
from haochaping.simulation import clock
from haochaping.simulation.cases import Case, Pending, TimelineBuilder
from haochaping.simulation.config import SimulationConfig
from haochaping.simulation.incidents import ActiveIncident
from haochaping.simulation.model import SimulatedEvent
from haochaping.simulation.orgs import OrgBook
from haochaping.simulation.ratings import RatingMaker

# Relative case volumes: 异地就医备案, 社保证明 and 公积金 are the national high-frequency matters.
MATTER_WEIGHTS: dict[str, float] = {
    "HCP-YB-JYBA": 3.0,
    "HCP-RS-CBZM": 2.5,
    "HCP-GJJ-ZYTQ": 2.5,
    "HCP-JG-JZHZ": 1.5,
    "HCP-SJ-GTKY": 1.2,
    "HCP-RS-JYSY": 1.2,
    "HCP-RS-YLZY": 1.2,
    "HCP-GA-SFZBL": 1.2,
    "HCP-YB-GXZY": 1.0,
    "HCP-GA-HKQY": 0.8,
    "HCP-GA-XSEDJ": 0.6,
    "HCP-MZ-HYDJ": 0.5,
    "HCP-SJ-YXBG": 0.5,
    "HCP-WJ-SPBZ": 0.3,
}
# Online is the bulk of real traffic; proxy and joint cases are weighted up because they carry the
# cross-province hand-offs tracing is about.
MODE_WEIGHTS: dict[Mode, float] = {Mode.ONLINE: 1.5, Mode.PROXY: 1.0, Mode.JOINT: 1.0, Mode.LOCAL: 1.0}
# Where people live and hand in (migrant destinations) vs. where their records are (home provinces).
RESIDENCE_WEIGHTS: dict[str, float] = {
    "310000": 3.0, "440000": 3.0, "320000": 2.5, "330000": 2.5, "110000": 2.0, "340000": 1.5, "120000": 1.2,
}
ORIGIN_WEIGHTS: dict[str, float] = {
    "340000": 2.5, "410000": 2.0, "510000": 2.0, "520000": 1.5, "500000": 1.5, "420000": 1.5,
    "130000": 1.5, "430000": 1.5, "360000": 1.5,
}
# Share of the day's cases by hour (weekday, Beijing time); weekends get a quarter of it.
_HOUR_WEIGHTS = (
    0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 1.0, 2.2, 2.4, 2.2,
    1.2, 1.6, 2.3, 2.3, 2.0, 1.0, 0.6, 0.6, 0.6, 0.4, 0.2, 0.1,
)
_WEEKEND_FACTOR = 0.25
_UNKNOWN_DEPARTMENT = "政务服务中心"

T = TypeVar("T")


class _Weighted(Generic[T]):
    """Draws from a fixed list by weight with one random number and a bisect."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self._cumulative: list[float] = []
        total = 0.0
        for weight in weights:
            total += weight
            self._cumulative.append(total)
        self._total = total

    def draw(self, rng: random.Random) -> T:
        return self.items[bisect_right(self._cumulative, rng.random() * self._total)]


class Simulator:
    def __init__(self, catalog: Catalog, config: SimulationConfig) -> None:
        self._catalog = catalog
        self._config = config
        routes: list[tuple[str, Mode, Process]] = []
        weights: list[float] = []
        for code, matter in catalog.matters.items():
            for mode, process in matter.processes.items():
                routes.append((code, mode, process))
                weights.append(MATTER_WEIGHTS.get(code, 1.0) * MODE_WEIGHTS[mode])
        if not routes:
            raise ValueError("catalog: has no matters to simulate")
        self._routes = _Weighted(routes, weights)
        provinces = config.provinces
        self._residence = _Weighted(provinces, [RESIDENCE_WEIGHTS.get(p, 1.0) for p in provinces])
        self._origin = _Weighted(provinces, [ORIGIN_WEIGHTS.get(p, 1.0) for p in provinces])
        mean = (sum(_HOUR_WEIGHTS) * (5 + 2 * _WEEKEND_FACTOR)) / (24 * 7)
        # Arrivals per second in each hour of the week (Monday 00:00 first), averaging cases_per_hour.
        self._rates = tuple(
            config.cases_per_hour / 3600 * _HOUR_WEIGHTS[hour] / mean * (1.0 if day < 5 else _WEEKEND_FACTOR)
            for day in range(7)
            for hour in range(24)
        )
        self._incidents = tuple(ActiveIncident.of(incident) for incident in config.incidents)

    def events(self) -> Iterator[SimulatedEvent]:
        """Endless stream in non-decreasing event-time order; the caller stops it (count/duration)."""
        config = self._config
        seed = config.seed
        rng = random.Random(seed)
        orgs = OrgBook()
        builder = TimelineBuilder(rng, orgs, self._incidents)
        rating_numbers = count(1)
        ratings = RatingMaker(rng, config, orgs, lambda: f"R{seed}-{next(rating_numbers):08d}")
        event_numbers = count(1)
        case_numbers = count(1)
        order = count()  # tie-breaker: equal times leave the heap in the order they entered
        hotline_odds = config.rating_share * config.hotline_share / (1.0 - config.hotline_share)

        heap: list[tuple[int, int, Case | None]] = []
        arrival = float(clock.to_epoch(config.start))
        heapq.heappush(heap, (int(arrival), next(order), None))
        while True:
            at, _, case = heapq.heappop(heap)
            if case is None:
                case = self._new_case(rng, f"C{seed}-{next(case_numbers):08d}", at)
                ratings.plan(case)
                self._advance(case, builder, ratings)
                heapq.heappush(heap, (case.pending[-1][0], next(order), case))
                if rng.random() < hotline_odds:
                    call = self._hotline_call(rng, at)
                    heapq.heappush(heap, (call.pending[-1][0], next(order), call))
                arrival = self._next_arrival(rng, arrival)
                heapq.heappush(heap, (int(arrival), next(order), None))
                continue
            pending = case.pending
            while True:
                item = pending.pop()
                if item[1] is None:
                    if case.hotline:
                        yield ratings.hotline_rating(case, item[0])
                        break
                    yield ratings.case_rating(case, item[0])
                else:
                    yield _case_event(case, item, f"E{seed}-{next(event_numbers):09d}")
                if not pending:
                    self._advance(case, builder, ratings)
                    if not pending:
                        break  # the case is over
                if heap and pending[-1][0] >= heap[0][0]:
                    heapq.heappush(heap, (pending[-1][0], next(order), case))
                    break

    def _advance(self, case: Case, builder: TimelineBuilder, ratings: RatingMaker) -> None:
        """Queue the case's next events: its next step, or its rating, or nothing when done.

        Fills case.pending in place (reversed, the next event last): the emit loop holds that list.
        A mid-way rating does not hold the case up; it is merged among the later steps' events.
        """
        if case.index < len(case.steps):
            if ratings.at_window_now(case):
                case.rating_at = ratings.schedule(case, case.clock)
            events = builder.next_step(case)
            trigger = ratings.triggered(case, events)
            if trigger:
                case.rating_at = ratings.schedule(case, trigger)
            if case.rating_at and case.rating_at <= events[-1][0]:
                times = [event[0] for event in events]
                events.insert(bisect_right(times, case.rating_at), (case.rating_at, None, None, None, None))
                case.rating_at = 0
            case.pending.extend(reversed(events))
            return
        if case.rating_at:
            case.pending.append((case.rating_at, None, None, None, None))
            case.rating_at = 0
        elif case.rates and not case.rated:
            case.pending.append((ratings.schedule(case, case.clock), None, None, None, None))

    def _new_case(self, rng: random.Random, case_id: str, at: int) -> Case:
        here, there = self._provinces(rng)
        if self._config.unknown_matter_share and rng.random() < self._config.unknown_matter_share:
            mode = rng.choice(tuple(Mode))
            code = f"LOCAL-{here}-{rng.randint(1, 40):03d}"
            process = self._catalog.generic[mode]
            return Case(case_id, code, code, _UNKNOWN_DEPARTMENT, mode, process.steps, here, there, at)
        code, mode, process = self._routes.draw(rng)
        matter = self._catalog.matters[code]
        case = Case(case_id, code, matter.name, matter.department, mode, process.steps, here, there, at)
        _run_in_provinces(case, self._catalog.overrides(code, mode))
        return case

    def _hotline_call(self, rng: random.Random, at: int) -> Case:
        """A citizen who calls 12345 about a matter some days after starting it, in calling hours."""
        here, there = self._provinces(rng)
        code, mode, process = self._routes.draw(rng)
        call = Case("", code, self._catalog.matter_name(code), self._catalog.matters[code].department, mode,
                    process.steps, here, there, at)
        call.hotline = True
        _run_in_provinces(call, self._catalog.overrides(code, mode))
        moment = at + rng.randint(600, 12 * clock.DAY)
        hour = clock.second_of_day(moment) // 3600
        if hour < 8 or hour >= 22:  # the hotline is answered around the clock, but people call by day
            moment = clock.day_start(moment) + (clock.DAY if hour >= 22 else 0) + 8 * 3600 + rng.randint(0, 7200)
        call.pending.append((moment, None, None, None, None))
        return call

    def _provinces(self, rng: random.Random) -> tuple[str, str]:
        here = self._residence.draw(rng)
        there = self._origin.draw(rng)
        while there == here:
            there = self._origin.draw(rng)
        return here, there

    def _next_arrival(self, rng: random.Random, t: float) -> float:
        """Poisson arrivals with a rate that changes by the hour (memoryless, so redraw at each hour)."""
        while True:
            local = t + clock.OFFSET
            day = int(local // clock.DAY)
            hour_of_week = ((day + 3) % 7) * 24 + int(local % clock.DAY) // 3600
            hour_end = t - (local % 3600) + 3600
            step = rng.expovariate(self._rates[hour_of_week])
            if t + step < hour_end:
                return t + step
            t = hour_end


def _run_in_provinces(case: Case, provincial: Mapping[str, Process]) -> None:
    """Give each step the limit of the province whose office performs it, as the timeline measures.

    The step list and roles stay national (who performs a step decides the province); a step the
    province's own process leaves out keeps the national limit.
    """
    if not provincial:
        return
    steps: list[StepSpec] = []
    for spec in case.steps:
        local = provincial.get(case.province_of(spec.role))
        local_spec = local.spec_for(spec.step) if local is not None else None
        if local_spec is not None and local_spec.limit_days != spec.limit_days:
            spec = StepSpec(spec.step, spec.role, local_spec.limit_days)
        steps.append(spec)
    case.steps = tuple(steps)


def _case_event(case: Case, item: Pending, event_id: str) -> SimulatedEvent:
    at, step, action, org, note = item
    assert step is not None and action is not None and org is not None
    moment = clock.to_datetime(at)
    payload: dict[str, object] = {
        "schema": "hcp.case/1",
        "event_id": event_id,
        "case_id": case.case_id,
        "matter_code": case.matter_code,
        "mode": case.mode.value,
        "step": step.value,
        "action": action.value,
        "org": dict(org),
        "at": moment.isoformat(),
        "note": note,
    }
    return SimulatedEvent("case", payload, moment, None)
