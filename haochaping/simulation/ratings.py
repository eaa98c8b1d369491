"""Ratings: whether and when a citizen rates, the level, the comment, and the ground truth of a 差评.

The engine schedules a case's rating after its last event (or right after the window steps for
some), then asks here for the payload; 12345 hotline ratings without a case are made here too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from haochaping.catalog import StepSpec
from haochaping.codes import Action, Channel, Mode, Reason, Role, StepKind
from haochaping.simulation import clock, comments
from haochaping.simulation import vocabulary as V
from haochaping.simulation.cases import Case, Fault, Pending
from haochaping.simulation.clock import to_datetime
from haochaping.simulation.config import SimulationConfig
from haochaping.simulation.faults import Manifest, base_probability
from haochaping.simulation.model import GroundTruth, SimulatedEvent
from haochaping.simulation.orgs import OrgBook

FAULT_NEGATIVE = 0.55  # chance of a 差评 when something went wrong (before calibration)
HOTLINE_NEGATIVE = 0.3  # people call 12345 mostly to complain
MIDWAY_SHARE = 0.2  # of window cases that rate right after acceptance (现场"一次一评")
# Of raters whose case just went visibly wrong, those who rate then (app, SMS) instead of waiting
# for the end: at a send-back or failed check, or while an overdue step keeps them waiting. It also
# keeps faulty cases, which run longer, from rating later than the others, so the share of 差评 is
# near the target from the first simulated days, not only in the steady state (measured flat).
EARLY_SHARE: dict[Manifest, float] = {Manifest.BREACH: 0.8, Manifest.RETURN: 0.5, Manifest.FAIL: 0.3}
MIN_BASE = 0.02  # 差评 with nothing wrong in the case: policy, the whole trip, mood

_RELATED: dict[Reason, Reason] = {
    Reason.DELAY: Reason.NO_FEEDBACK,
    Reason.NO_FEEDBACK: Reason.DELAY,
    Reason.BUCK_PASSING: Reason.MULTIPLE_TRIPS,
    Reason.REPEAT_MATERIALS: Reason.MULTIPLE_TRIPS,
    Reason.ECERT_NOT_RECOGNISED: Reason.DATA_NOT_SHARED,
    Reason.DATA_NOT_SHARED: Reason.ECERT_NOT_RECOGNISED,
    Reason.PROXY_ONLY: Reason.MULTIPLE_TRIPS,
    Reason.IDENTITY_FAIL: Reason.SYSTEM_ERROR,
    Reason.SYSTEM_ERROR: Reason.IDENTITY_FAIL,
    Reason.STANDARD_MISMATCH: Reason.REPEAT_MATERIALS,
    Reason.DELIVERY_PROBLEM: Reason.DELAY,
    Reason.WINDOW_INEFFECTIVE: Reason.PROXY_ONLY,
    Reason.ATTITUDE: Reason.WINDOW_INEFFECTIVE,
    Reason.GUIDE_UNCLEAR: Reason.STANDARD_MISMATCH,
    Reason.NOT_AVAILABLE_ONLINE: Reason.MULTIPLE_TRIPS,
    Reason.MULTIPLE_TRIPS: Reason.BUCK_PASSING,
    Reason.POLICY_DIFFERENCE: Reason.STANDARD_MISMATCH,
}
_ONLINE_CHANNELS = (Channel.APP, Channel.PC, Channel.MINI_PROGRAM, Channel.SMS)
_ONLINE_WEIGHTS = (45, 30, 20, 5)
_WINDOW_CHANNELS = (Channel.WINDOW, Channel.SMS, Channel.APP, Channel.KIOSK, Channel.PC)
_WINDOW_WEIGHTS = (40, 25, 20, 5, 10)
_POSTED_CHANNELS = (Channel.SMS, Channel.APP, Channel.PC, Channel.MINI_PROGRAM)
_POSTED_WEIGHTS = (40, 30, 15, 15)
# Seconds between the last event and the rating, by channel: at the window at once, else when the
# SMS invitation or its reminder comes. The same for happy and unhappy citizens: a difference would
# make the share of 差评 swing with the weekday (offices close at weekends, ratings do not).
_DELAYS: dict[Channel, tuple[int, int]] = {
    Channel.WINDOW: (60, 1800),
    Channel.KIOSK: (60, 1800),
    Channel.SMS: (3600, 2 * 86_400),
    Channel.APP: (600, 3 * 86_400),
    Channel.PC: (600, 3 * 86_400),
    Channel.MINI_PROGRAM: (600, 3 * 86_400),
}


@dataclass(frozen=True, slots=True)
class _Odds:
    base: float  # P(差评) when nothing went wrong
    fault: float  # P(差评) when something did


class RatingMaker:
    def __init__(
        self, rng: random.Random, config: SimulationConfig, orgs: OrgBook, next_id: Callable[[], str]
    ) -> None:
        self._rng = rng
        self._config = config
        self._orgs = orgs
        self._next_id = next_id
        hotline = config.hotline_share
        # Case ratings are calibrated so that, with the hotline's share, the total hits the target.
        self._case_target = max(0.005, (config.negative_share - hotline * HOTLINE_NEGATIVE) / (1 - hotline))
        self._odds: dict[tuple[str, Mode, int], _Odds] = {}

    # -- planning --------------------------------------------------------------------------

    def plan(self, case: Case) -> None:
        """Decide at intake whether the citizen will rate, and whether at the window mid-way."""
        rng = self._rng
        case.rates = rng.random() < self._config.rating_share
        if case.rates and case.mode is not Mode.ONLINE and rng.random() < MIDWAY_SHARE:
            for index, spec in enumerate(case.steps):
                if spec.step is StepKind.ACCEPT and spec.role is Role.RECEIVING:
                    case.rate_after = index
                    case.at_window = True
                    break

    def at_window_now(self, case: Case) -> bool:
        """Whether the citizen rates at the window now, right after the acceptance just done."""
        return case.rates and not case.rated and case.at_window and case.rate_after == case.index - 1

    def triggered(self, case: Case, events: list[Pending]) -> int:
        """When the step just drawn went visibly wrong, maybe the moment its citizen rates (else 0).

        A send-back or failed check prompts the rating at that event; an overdue step prompts it
        while the citizen is still waiting, after the limit has passed.
        """
        if not case.rates or case.rated or case.at_window or not case.faults:
            return 0
        fault = case.faults[-1]
        if fault.index != case.index - 1 or self._rng.random() >= EARLY_SHARE.get(fault.manifest, 0.0):
            return 0
        if fault.manifest is Manifest.BREACH:
            overdue = clock.add_work(fault.start, fault.limit + self._rng.uniform(0.3, 2.0))
            moment = min(overdue, events[-1][0])
            fault.days = (moment - fault.start) / clock.DAY  # what the citizen has waited so far
        else:
            action = Action.RETURN if fault.manifest is Manifest.RETURN else Action.FAIL
            moment = next(event[0] for event in events if event[2] is action)
        case.rate_after = fault.index
        return moment

    def schedule(self, case: Case, last_at: int) -> int:
        """Choose the channel and whether it is a 差评; return when the rating happens (after `last_at`)."""
        rng = self._rng
        case.rated = True  # queued; case_rating() fills it in when the engine emits it
        case.negative = self._decide(case)
        if case.at_window:
            channel = Channel.WINDOW if rng.random() < 0.85 else Channel.KIOSK
            case.rating_step = StepKind.ACCEPT.value
            delay = rng.randint(60, 600)
        elif case.rate_after >= 0:  # prompted by a step that went wrong, from the phone or a text
            channel = rng.choices(_POSTED_CHANNELS, _POSTED_WEIGHTS)[0]
            step = case.steps[case.rate_after].step
            case.rating_step = step.value if rng.random() < 0.3 else None
            delay = rng.randint(*_DELAYS[channel])
        else:
            if case.mode is Mode.ONLINE:
                channel = rng.choices(_ONLINE_CHANNELS, _ONLINE_WEIGHTS)[0]
                case.rating_step = case.steps[-1].step.value if rng.random() < 0.1 else None
            elif any(spec.step is StepKind.DELIVER and spec.role is Role.RECEIVING for spec in case.steps):
                channel = rng.choices(_WINDOW_CHANNELS, _WINDOW_WEIGHTS)[0]
                at_window = channel is Channel.WINDOW and rng.random() < 0.6
                case.rating_step = StepKind.DELIVER.value if at_window else None
            else:
                channel = rng.choices(_POSTED_CHANNELS, _POSTED_WEIGHTS)[0]
                case.rating_step = None
            delay = rng.randint(*_DELAYS[channel])
        case.channel = channel.value
        return last_at + delay

    def _decide(self, case: Case) -> bool:
        odds = self._odds_for(case)
        return self._rng.random() < (odds.fault if self._seen_faults(case) else odds.base)

    @staticmethod
    def _seen_faults(case: Case) -> list[Fault]:
        """The faults the citizen has met by the time of rating."""
        cut = case.rate_after if case.rate_after >= 0 else len(case.steps) - 1
        return [fault for fault in case.faults if fault.index <= cut]

    def _odds_for(self, case: Case) -> _Odds:
        # A rating after a fault sees at least one fault as an end rating would: same odds.
        cut = case.rate_after if case.at_window else -1
        key = (case.matter_code, case.mode, cut)
        found = self._odds.get(key)
        if found is None:
            steps = case.steps if cut < 0 else case.steps[: cut + 1]
            clean = 1.0
            for spec in steps:
                clean *= 1.0 - base_probability(spec.step)
            faulty = 1.0 - clean
            target = self._case_target
            base = (target - faulty * FAULT_NEGATIVE) / clean
            fault = FAULT_NEGATIVE
            if base < MIN_BASE:
                base = MIN_BASE
                fault = min(0.95, max(0.0, (target - clean * base) / faulty)) if faulty > 0 else 0.0
            found = self._odds[key] = _Odds(base, fault)
        return found

    # -- case ratings ----------------------------------------------------------------------

    def case_rating(self, case: Case, at: int) -> SimulatedEvent:
        rng = self._rng
        cut = case.rate_after if case.rate_after >= 0 else len(case.steps) - 1
        faults = self._seen_faults(case)
        negative = case.negative
        scene = self._scene(case.matter_code, case.matter_name, case.department, case.receiving, case.other)
        truth: GroundTruth | None = None
        if negative:
            level = 1 if rng.random() < 0.45 else 2
            if faults:
                comment, truth = self._about_fault(case, faults, scene)
            else:
                comment, truth = self._unprompted(case, case.steps[: cut + 1], scene)
            tags = self._tags(truth.reason)
        else:
            level, comment = self._content(faults, scene, (at - case.started) / 86_400)
            tags = []
        dt = to_datetime(at)
        payload: dict[str, object] = {
            "schema": "hcp.rating/1",
            "rating_id": self._next_id(),
            "case_id": case.case_id,
            "matter_code": case.matter_code,
            "province": case.receiving,
            "channel": case.channel,
            "level": level,
            "tags": tags,
            "comment": comment,
            "step": case.rating_step,
            "rated_at": dt.isoformat(),
            "rater": self._rater(case.channel),
        }
        return SimulatedEvent("rating", payload, dt, truth)

    def _about_fault(self, case: Case, faults: list[Fault], scene: comments.Scene) -> tuple[str | None, GroundTruth]:
        rng = self._rng
        incidents = [fault for fault in faults if fault.incident]
        primary = rng.choice(incidents or faults)
        returns = sum(fault.count for fault in faults if fault.manifest is Manifest.RETURN)
        if not primary.incident and returns and (returns >= 2 or len(faults) >= 2) and rng.random() < 0.5:
            trips = min(6, 1 + returns + len(faults))
            truth = GroundTruth("JOURNEY", Reason.MULTIPLE_TRIPS, case.receiving, False)
            return comments.journey(rng, scene, trips), truth
        truth = GroundTruth(primary.step.value, primary.reason, primary.province, primary.incident)
        happening = comments.Happening(
            primary.step, primary.reason, primary.manifest.value, primary.days, primary.count, primary.limit
        )
        roll = rng.random()
        visible = primary.manifest is not Manifest.SILENT
        if visible and roll < 0.1:
            return None, truth  # many 差评 have no text; the timeline still shows what happened
        if visible and roll < 0.25:
            return comments.complaint(rng, scene, happening, vague=True), truth
        faulty = {fault.index for fault in faults}
        earlier = [spec.step for index, spec in enumerate(case.steps[: primary.index]) if index not in faulty]
        return comments.complaint(rng, scene, happening, earlier), truth

    def _unprompted(
        self, case: Case, steps: tuple[StepSpec, ...], scene: comments.Scene
    ) -> tuple[str | None, GroundTruth]:
        """A 差评 with nothing wrong in the timeline: policy, the whole trip, the window, or no clue."""
        rng = self._rng
        window = [spec for spec in steps if spec.role is Role.RECEIVING and spec.step in _WINDOW_STEPS]
        guide = [spec for spec in steps if spec.step is StepKind.GUIDE]
        kinds = ["policy", "journey", "unknown", "window", "guide"]
        if case.at_window:  # rated at the window: about the window, rarely about policy
            weights = [0.3, 0.6, 1.0, 4.0 if window else 0.0, 1.0 if guide else 0.0]
        else:
            weights = [3.0 if case.department in V.POLICY else 0.6, 1.5, 1.5, 2.0 if window else 0.0,
                       0.5 if guide else 0.0]
        kind = rng.choices(kinds, weights)[0]
        if kind == "policy":
            truth = GroundTruth("POLICY", Reason.POLICY_DIFFERENCE, case.province_of(Role.HANDLING), False)
            return comments.policy(rng, scene), truth
        if kind == "journey":
            truth = GroundTruth("JOURNEY", Reason.MULTIPLE_TRIPS, case.receiving, False)
            return comments.journey(rng, scene, rng.randint(2, 4)), truth
        if kind == "unknown":
            truth = GroundTruth("UNKNOWN", Reason.OTHER, case.receiving, False)
            return (comments.unknown(rng) if rng.random() < 0.7 else None), truth
        spec = rng.choice(window if kind == "window" else guide)
        reason = Reason.GUIDE_UNCLEAR
        if kind == "window":
            reason = Reason.ATTITUDE
            if spec.step is StepKind.ACCEPT:
                options = [Reason.ATTITUDE, Reason.ATTITUDE, Reason.WINDOW_INEFFECTIVE]
                if case.mode in (Mode.PROXY, Mode.JOINT):
                    options.append(Reason.PROXY_ONLY)
                reason = rng.choice(options)
        truth = GroundTruth(spec.step.value, reason, case.province_of(spec.role), False)
        happening = comments.Happening(spec.step, reason, "silent", 0.1, 0, spec.limit_days)
        return comments.complaint(rng, scene, happening), truth

    def _content(self, faults: list[Fault], scene: comments.Scene, days: float) -> tuple[int, str | None]:
        """Level and comment of a rating that is not a 差评."""
        rng = self._rng
        roll = rng.random()
        if faults:
            level = 5 if roll < 0.3 else 4 if roll < 0.65 else 3
        else:
            level = 5 if roll < 0.72 else 4 if roll < 0.92 else 3
        if level == 3:
            if faults and rng.random() < 0.5:
                fault = rng.choice(faults)
                happening = comments.Happening(
                    fault.step, fault.reason, fault.manifest.value, fault.days, fault.count, fault.limit
                )
                return level, comments.mild(rng, scene, happening)
            return level, (rng.choice(V.NEUTRAL) if rng.random() < 0.3 else None)
        return level, (comments.praise(rng, scene, days) if rng.random() < 0.45 else None)

    def _tags(self, reason: Reason) -> list[str]:
        roll = self._rng.random()
        if reason is Reason.OTHER or roll >= 0.45:
            return []
        if roll < 0.35:
            return [reason.value]
        related = _RELATED.get(reason)
        return [reason.value] if related is None else [reason.value, related.value]

    def _rater(self, channel: str) -> dict[str, object] | None:
        rng = self._rng
        anonymous = 0.4 if channel in (Channel.WINDOW, Channel.KIOSK, Channel.HOTLINE) else 0.15
        if rng.random() < anonymous:
            return None
        return {"id": f"U{rng.getrandbits(44):011x}", "real_name": rng.random() < 0.85}

    def _scene(self, matter_code: str, matter_name: str, department: str, here: str, there: str) -> comments.Scene:
        return comments.Scene(matter_code, matter_name, department, self._orgs.place(here), self._orgs.place(there))

    # -- 12345 hotline ---------------------------------------------------------------------

    def hotline_rating(self, call: Case, at: int) -> SimulatedEvent:
        """A rating taken by the 12345 hotline: no case id, about the matter in general."""
        rng = self._rng
        province, other = call.receiving, call.other
        scene = self._scene(call.matter_code, call.matter_name, call.department, province, other)
        truth: GroundTruth | None = None
        tags: list[str] = []
        if rng.random() < HOTLINE_NEGATIVE:
            level = 1 if rng.random() < 0.55 else 2
            comment, truth = self._hotline_complaint(call.steps, scene, province, other)
            if rng.random() < 0.2 and truth.reason is not Reason.OTHER:
                tags = [truth.reason.value]
        else:
            level = rng.choice((5, 5, 4, 4, 3))
            comment = comments.hotline_praise(rng, scene) if rng.random() < 0.5 else None
        dt = to_datetime(at)
        payload: dict[str, object] = {
            "schema": "hcp.rating/1",
            "rating_id": self._next_id(),
            "case_id": None,
            "matter_code": call.matter_code,
            "province": province,
            "channel": Channel.HOTLINE.value,
            "level": level,
            "tags": tags,
            "comment": comment,
            "step": None,
            "rated_at": dt.isoformat(),
            "rater": self._rater(Channel.HOTLINE.value),
        }
        return SimulatedEvent("rating", payload, dt, truth)

    def _hotline_complaint(
        self, steps: tuple[StepSpec, ...], scene: comments.Scene, province: str, other: str
    ) -> tuple[str | None, GroundTruth]:
        rng = self._rng
        prefix = comments.hotline_prefix(rng)
        roll = rng.random()
        if roll < 0.35:
            truth = GroundTruth("JOURNEY", Reason.MULTIPLE_TRIPS, province, False)
            return prefix + comments.journey(rng, scene, rng.randint(2, 5)), truth
        if roll < 0.55:
            truth = GroundTruth("POLICY", Reason.POLICY_DIFFERENCE, other, False)
            return prefix + comments.policy(rng, scene), truth
        window = [spec for spec in steps if spec.role is Role.RECEIVING and spec.step in _WINDOW_STEPS]
        if roll < 0.85 and window:
            spec = rng.choice(window)
            reason = rng.choice((Reason.WINDOW_INEFFECTIVE, Reason.PROXY_ONLY, Reason.ATTITUDE))
            if spec.step is not StepKind.ACCEPT:
                reason = Reason.ATTITUDE
            happening = comments.Happening(spec.step, reason, "silent", 0.1, 0, spec.limit_days)
            truth = GroundTruth(spec.step.value, reason, province, False)
            return prefix + comments.complaint(rng, scene, happening), truth
        truth = GroundTruth("UNKNOWN", Reason.OTHER, province, False)
        return prefix + comments.unknown(rng), truth


_WINDOW_STEPS = frozenset({StepKind.ACCEPT, StepKind.VERIFY})
