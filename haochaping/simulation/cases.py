"""Case timelines: the CaseEvents of one case, step by step, with the faults that happened in it.

The engine asks for the next step's events when the previous ones have been emitted (so only
the open step of each case is held in memory); the rating maker reads the recorded faults.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from dataclasses import dataclass

from haochaping.catalog import StepSpec
from haochaping.codes import Action, Mode, Reason, Role, StepKind
from haochaping.simulation import clock
from haochaping.simulation.faults import QUICK_STEPS, FaultTable, Manifest, base_probability, manifest_for
from haochaping.simulation.faults import TYPICAL_REASON as _TYPICAL
from haochaping.simulation.incidents import ActiveIncident, Incident
from haochaping.simulation.orgs import OrgBook
from haochaping.simulation.vocabulary import GENERIC_MATERIALS, MATERIALS

# Offices keep office hours; the portal and data interfaces answer at any time.
_OFFICE_TIMED = frozenset({Role.RECEIVING, Role.HANDLING, Role.LOGISTICS})
_MAX_PROBABILITY = 0.95

Pending = tuple[int, StepKind | None, Action | None, dict[str, str] | None, str | None]
"""(at, step, action, org, note); step None marks the case's rating."""


@dataclass(slots=True)
class Fault:
    """Something that went wrong at one step of one case."""

    step: StepKind
    reason: Reason
    manifest: Manifest
    province: str  # of the org that performed the step
    incident: bool
    index: int  # position of the step in the process
    start: int  # when the step started
    days: float  # calendar days from the step's first start to its completion (or to the rating)
    count: int  # send-backs or failed checks
    limit: int


class Case:
    """One case in flight: its plan, where it is in the process, and the events not yet emitted."""

    __slots__ = (
        "at_window",
        "case_id",
        "channel",
        "clock",
        "department",
        "faults",
        "hotline",
        "index",
        "matter_code",
        "matter_name",
        "mode",
        "negative",
        "other",
        "pending",
        "rate_after",
        "rated",
        "rates",
        "rating_at",
        "rating_step",
        "receiving",
        "started",
        "steps",
    )

    def __init__(
        self,
        case_id: str,
        matter_code: str,
        matter_name: str,
        department: str,
        mode: Mode,
        steps: tuple[StepSpec, ...],
        receiving: str,
        other: str,
        started: int,
    ) -> None:
        self.case_id = case_id
        self.matter_code = matter_code
        self.matter_name = matter_name
        self.department = department
        self.mode = mode
        self.steps = steps
        self.receiving = receiving
        self.other = other  # handling / data-providing province (the 户籍地, 参保地, 迁出地)
        self.index = 0
        self.clock = started
        self.started = started
        self.pending: list[Pending] = []  # reversed: the next event is last
        self.faults: list[Fault] = []
        self.rate_after = -1  # index of the step after which the citizen rates; -1: after the last
        self.at_window = False  # rates at the window right after acceptance (现场"一次一评")
        self.rates = False
        self.rated = False
        self.channel = ""
        self.rating_step: str | None = None
        self.rating_at = 0  # a mid-way rating's time while it waits to be merged into later events
        self.negative = False  # the rating will be a 差评 (decided when it is scheduled)
        self.hotline = False  # a 12345 call about this matter: only a rating, no case events

    def province_of(self, role: Role) -> str:
        if role in (Role.RECEIVING, Role.PLATFORM) or self.mode is Mode.LOCAL:
            # In local mode everything happens in one province, except data kept where it was issued.
            return self.other if role is Role.DATA_PROVIDER else self.receiving
        return self.other


class TimelineBuilder:
    """Draws the events of a case's next step, with faults from the tables and the incidents."""

    def __init__(self, rng: random.Random, orgs: OrgBook, incidents: tuple[ActiveIncident, ...]) -> None:
        self._rng = rng
        self._orgs = orgs
        self._faults = FaultTable()
        self._incidents = incidents

    def next_step(self, case: Case) -> list[Pending]:
        """The events of the case's next step in time order; advances the case past it."""
        spec = case.steps[case.index]
        index = case.index
        case.index += 1
        rng = self._rng
        role = spec.role
        province = case.province_of(role)
        org = self._orgs.org(case.department, province, role)
        office = role in _OFFICE_TIMED
        start = case.clock + rng.randint(30, 5400)
        if office:
            start = clock.office_open(start, rng.randint(0, 1800))
        manifest, reason, incident = self._draw_fault(case, spec, province, start)
        if spec.step is StepKind.TRANSFER:
            receiver = self._orgs.org(case.department, case.province_of(Role.HANDLING), Role.HANDLING)
            events, count = self._transfer(case, spec, org, receiver, start, manifest, reason)
        else:
            events, count = self._plain(case, spec, org, office, start, manifest, reason)
        end = events[-1][0]
        case.clock = end
        if manifest is not None and reason is not None:
            case.faults.append(
                Fault(spec.step, reason, manifest, province, incident, index, start, (end - start) / clock.DAY,
                      count, spec.limit_days)
            )
        return events

    def _draw_fault(
        self, case: Case, spec: StepSpec, province: str, start: int
    ) -> tuple[Manifest | None, Reason | None, bool]:
        rng = self._rng
        probability = base_probability(spec.step)
        strongest: Incident | None = None
        for active in self._incidents:
            if active.covers(province, spec.step, case.matter_code, start) and (
                strongest is None or active.incident.factor > strongest.factor
            ):
                strongest = active.incident
        roll = rng.random()
        if strongest is not None:
            raised = min(_MAX_PROBABILITY, probability * strongest.factor)
            if probability <= roll < raised:
                # The extra failures are the incident's: its reason, and marked as such.
                reason = strongest.reason or _TYPICAL[spec.step]
                return manifest_for(spec.step, reason), reason, True
            probability = min(probability, raised)  # a factor below 1 is a fix, not an incident
        if roll >= probability:
            return None, None, False
        kinds, cumulative = self._faults.choices(spec.step, spec.role, case.mode)
        pick = kinds[bisect_left(cumulative, rng.random() * cumulative[-1])]
        return pick.manifest, pick.reason, False

    # -- durations -------------------------------------------------------------------------

    def _quick(self, office: bool) -> int:
        return self._rng.randint(180, 2400) if office else self._rng.randint(20, 600)

    def _normal_end(self, spec: StepSpec, start: int, office: bool, share: float = 1.0) -> int:
        """A completion comfortably within the limit (minutes for window and online steps)."""
        rng = self._rng
        limit = spec.limit_days
        if spec.step in QUICK_STEPS or (limit <= 1 and not office):
            return start + self._quick(office)
        if limit <= 1:
            return start + rng.randint(1800, 4 * 3600)
        days = rng.uniform(0.15, max(0.2, limit - 0.5)) * share
        end = clock.add_work(start, days)
        if office:
            end = clock.into_office_hours(end, rng.randint(0, 1500))
        if end <= start or clock.work_between(start, end) > limit - 0.05:
            end = start + rng.randint(1800, 4 * 3600)
        return end

    def _breach_end(self, spec: StepSpec, start: int, office: bool) -> int:
        """A completion clearly past the limit, as the timeline measures working days."""
        rng = self._rng
        limit = spec.limit_days
        days = limit + rng.uniform(1.2, 1.2 + max(2.0, limit * 1.5))
        end = clock.add_work(start, days)
        if office:
            end = clock.into_office_hours(end, rng.randint(0, 1500))
        while clock.work_between(start, end) < limit + 0.5:
            end = clock.add_work(end, 1.0)
        return end

    def _resume(self, at: int, office: bool) -> int:
        """When the citizen is back after a send-back for correction (补正)."""
        back = clock.add_work(at, self._rng.uniform(0.8, 5.0))
        return clock.office_open(back, self._rng.randint(0, 3600)) if office else back

    # -- event shapes ----------------------------------------------------------------------

    def _plain(
        self,
        case: Case,
        spec: StepSpec,
        org: dict[str, str],
        office: bool,
        start: int,
        manifest: Manifest | None,
        reason: Reason | None,
    ) -> tuple[list[Pending], int]:
        rng = self._rng
        step = spec.step
        events: list[Pending] = [(start, step, Action.START, org, None)]
        count = 0
        if manifest is Manifest.BREACH:
            end = self._breach_end(spec, start, office)
        elif manifest is Manifest.RETURN:
            at = start
            count = 2 if rng.random() < 0.15 else 1
            for _ in range(count):
                at = max(at + 60, self._normal_end(spec, at, office, share=0.5))
                events.append((at, step, Action.RETURN, org, _return_note(rng, reason, case.matter_code)))
                at = self._resume(at, office)
                events.append((at, step, Action.START, org, None))
            end = self._normal_end(spec, at, office, share=0.5)
        elif manifest is Manifest.FAIL:
            at = start
            count = rng.choice((1, 1, 2, 3))
            for _ in range(count):
                at += rng.randint(30, 900)
                events.append((at, step, Action.FAIL, org, _fail_note(rng, reason, case)))
            if rng.random() < 0.6:
                end = at + rng.randint(120, 3600)
            else:  # resolved by a manual check (人工核验/协查) days later
                end = clock.add_work(at, rng.uniform(1.0, 3.0))
                if office:
                    end = clock.into_office_hours(end, rng.randint(0, 1500))
                end = max(end, at + 600)
        else:
            end = self._normal_end(spec, start, office)
        events.append((end, step, Action.COMPLETE, org, _complete_note(rng, step)))
        return events, count

    def _transfer(
        self,
        case: Case,
        spec: StepSpec,
        sender: dict[str, str],
        receiver: dict[str, str],
        start: int,
        manifest: Manifest | None,
        reason: Reason | None,
    ) -> tuple[list[Pending], int]:
        """start and transfer_out by the sender, transfer_in by the receiver, complete by the sender."""
        rng = self._rng
        step = spec.step
        events: list[Pending] = [(start, step, Action.START, sender, None)]
        at = start
        count = 0
        if manifest is Manifest.RETURN:
            count = 1
            sent = at + rng.randint(300, 5400)
            events.append((sent, step, Action.TRANSFER_OUT, sender, _dispatch_note(rng)))
            got = max(sent + 600, self._normal_end(spec, sent, True, share=0.6))
            events.append((got, step, Action.TRANSFER_IN, receiver, "已签收"))
            at = got + rng.randint(1800, 4 * 3600)
            events.append((at, step, Action.RETURN, receiver, _return_note(rng, reason, case.matter_code)))
            at = self._resume(at, True)
            events.append((at, step, Action.START, sender, None))
        sent = at + rng.randint(300, 5400)
        events.append((sent, step, Action.TRANSFER_OUT, sender, _dispatch_note(rng)))
        got = self._breach_end(spec, start, True) if manifest is Manifest.BREACH else 0
        if got <= sent:
            got = max(sent + 600, self._normal_end(spec, sent, True))
        events.append((got, step, Action.TRANSFER_IN, receiver, "已签收"))
        events.append((got + rng.randint(60, 900), step, Action.COMPLETE, sender, None))
        return events, count


def _materials(matter_code: str) -> tuple[str, ...]:
    return MATERIALS.get(matter_code, GENERIC_MATERIALS)


def _return_note(rng: random.Random, reason: Reason | None, matter_code: str) -> str:
    material = rng.choice(_materials(matter_code))
    if reason is Reason.STANDARD_MISMATCH:
        return f"{material}不符合本地审核要求，退回补正"
    if reason is Reason.BUCK_PASSING:
        return rng.choice(("非本机关管辖，退回受理地", "材料不全，退回受理地"))
    if reason is Reason.ECERT_NOT_RECOGNISED:
        return f"电子{material}无法核验，请提供纸质原件"
    if reason is Reason.DELIVERY_PROBLEM:
        return rng.choice(("收件地址有误，快件退回", "收件人电话无法接通，快件退回"))
    return f"材料不齐，请补正{material}"


def _fail_note(rng: random.Random, reason: Reason | None, case: Case) -> str:
    if reason is Reason.IDENTITY_FAIL:
        return rng.choice(("人脸识别比对未通过", "身份信息核验不一致"))
    if reason is Reason.DATA_NOT_SHARED:
        return rng.choice(("跨省数据查询无返回", "共享接口查询超时", "未查询到户籍地数据"))
    if reason is Reason.ECERT_NOT_RECOGNISED:
        return "电子证照核验未通过"
    if reason is Reason.SYSTEM_ERROR:
        return rng.choice(("系统异常，提交失败", "服务暂不可用，请稍后重试"))
    return "核验失败"


def _dispatch_note(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "通过跨省通办协同平台推送电子材料"
    return f"纸质材料EMS寄出，运单号11{rng.randint(0, 10**11 - 1):011d}"


def _complete_note(rng: random.Random, step: StepKind) -> str | None:
    if step is StepKind.DECIDE and rng.random() < 0.5:
        return "准予办理"
    if step is StepKind.DELIVER and rng.random() < 0.5:
        return "已签收"
    return None
