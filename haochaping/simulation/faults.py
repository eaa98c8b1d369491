"""What can go wrong at each step: how often, with which 差评 reason, and how the timeline shows it.

The case timelines draw a fault per step from these tables (raised by incidents); the ratings
then complain about the fault's step and reason, which becomes the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from haochaping.codes import Mode, Reason, Role, StepKind

OFFICE_ROLES = frozenset({Role.RECEIVING, Role.HANDLING})
CROSS_MODES = frozenset({Mode.PROXY, Mode.JOINT})


class Manifest(Enum):
    """How a fault leaves a trace in the case events (SILENT: only the comment tells)."""

    BREACH = "breach"  # the step overruns its time limit
    RETURN = "return"  # a `return` event, the citizen corrects and the step restarts
    FAIL = "fail"  # one or more `fail` events before the step succeeds
    SILENT = "silent"


@dataclass(frozen=True, slots=True)
class FaultKind:
    reason: Reason
    weight: float
    manifest: Manifest
    roles: frozenset[Role] | None = None  # only when the step is performed by one of these
    modes: frozenset[Mode] | None = None  # only in these modes

    def fits(self, role: Role, mode: Mode) -> bool:
        return (self.roles is None or role in self.roles) and (self.modes is None or mode in self.modes)


_B, _R, _F, _S = Manifest.BREACH, Manifest.RETURN, Manifest.FAIL, Manifest.SILENT
_OFFICE = OFFICE_ROLES

# Per step: the chance that it goes wrong in one case, and the faults it can have. The rates put
# most trouble in the cross-province parts (transfer, data sharing, review), as the seeds report.
STEP_FAULTS: dict[StepKind, tuple[float, tuple[FaultKind, ...]]] = {
    StepKind.GUIDE: (0.012, (
        FaultKind(Reason.GUIDE_UNCLEAR, 3, _S),
        FaultKind(Reason.STANDARD_MISMATCH, 1, _S),
    )),
    StepKind.IDENTITY: (0.028, (
        FaultKind(Reason.IDENTITY_FAIL, 4, _F),
        FaultKind(Reason.SYSTEM_ERROR, 1, _F),
    )),
    StepKind.APPLY: (0.020, (
        FaultKind(Reason.SYSTEM_ERROR, 3, _F),
        FaultKind(Reason.NOT_AVAILABLE_ONLINE, 1, _S, modes=frozenset({Mode.ONLINE})),
        FaultKind(Reason.GUIDE_UNCLEAR, 1, _S),
    )),
    StepKind.SUBMIT: (0.025, (
        FaultKind(Reason.REPEAT_MATERIALS, 3, _R),
        FaultKind(Reason.SYSTEM_ERROR, 1, _F),
    )),
    StepKind.ACCEPT: (0.030, (
        FaultKind(Reason.DELAY, 2, _B),
        FaultKind(Reason.WINDOW_INEFFECTIVE, 2, _S, roles=_OFFICE),
        FaultKind(Reason.PROXY_ONLY, 2, _S, roles=_OFFICE, modes=CROSS_MODES),
        FaultKind(Reason.ATTITUDE, 1.5, _S, roles=_OFFICE),
        FaultKind(Reason.BUCK_PASSING, 1, _R, roles=_OFFICE),
    )),
    StepKind.VERIFY: (0.030, (
        FaultKind(Reason.REPEAT_MATERIALS, 3, _R),
        FaultKind(Reason.ECERT_NOT_RECOGNISED, 2, _R),
        FaultKind(Reason.ATTITUDE, 1, _S, roles=_OFFICE),
    )),
    StepKind.DATA_SHARE: (0.045, (
        FaultKind(Reason.DATA_NOT_SHARED, 4, _F),
        FaultKind(Reason.ECERT_NOT_RECOGNISED, 2, _F),
        FaultKind(Reason.SYSTEM_ERROR, 1, _F),
    )),
    StepKind.TRANSFER: (0.080, (
        FaultKind(Reason.DELAY, 5, _B),
        FaultKind(Reason.BUCK_PASSING, 2, _R),
        FaultKind(Reason.NO_FEEDBACK, 1, _B),
    )),
    StepKind.REVIEW: (0.060, (
        FaultKind(Reason.DELAY, 4, _B),
        FaultKind(Reason.STANDARD_MISMATCH, 3, _R),
        FaultKind(Reason.REPEAT_MATERIALS, 2, _R),
        FaultKind(Reason.BUCK_PASSING, 1, _R),
    )),
    StepKind.DECIDE: (0.025, (
        FaultKind(Reason.DELAY, 3, _B),
        FaultKind(Reason.NO_FEEDBACK, 1, _B),
    )),
    StepKind.PAYMENT: (0.015, (
        FaultKind(Reason.SYSTEM_ERROR, 1, _F),
    )),
    StepKind.DELIVER: (0.035, (
        FaultKind(Reason.DELIVERY_PROBLEM, 3, _R),
        FaultKind(Reason.DELIVERY_PROBLEM, 2, _B),
        FaultKind(Reason.DELAY, 2, _B),
        FaultKind(Reason.PROXY_ONLY, 1, _S, roles=_OFFICE, modes=CROSS_MODES),
    )),
    StepKind.NOTIFY: (0.020, (
        FaultKind(Reason.NO_FEEDBACK, 1, _B),
    )),
}

# The reason a degraded step produces when an incident names none.
TYPICAL_REASON: dict[StepKind, Reason] = {
    StepKind.GUIDE: Reason.GUIDE_UNCLEAR,
    StepKind.IDENTITY: Reason.IDENTITY_FAIL,
    StepKind.APPLY: Reason.SYSTEM_ERROR,
    StepKind.SUBMIT: Reason.SYSTEM_ERROR,
    StepKind.ACCEPT: Reason.DELAY,
    StepKind.VERIFY: Reason.ECERT_NOT_RECOGNISED,
    StepKind.DATA_SHARE: Reason.DATA_NOT_SHARED,
    StepKind.TRANSFER: Reason.DELAY,
    StepKind.REVIEW: Reason.DELAY,
    StepKind.DECIDE: Reason.DELAY,
    StepKind.PAYMENT: Reason.SYSTEM_ERROR,
    StepKind.DELIVER: Reason.DELIVERY_PROBLEM,
    StepKind.NOTIFY: Reason.NO_FEEDBACK,
}

# How a reason shows in a timeline when the step's own table does not list it.
_GENERAL_MANIFEST: dict[Reason, Manifest] = {
    Reason.DELAY: _B,
    Reason.NO_FEEDBACK: _B,
    Reason.DELIVERY_PROBLEM: _B,
    Reason.IDENTITY_FAIL: _F,
    Reason.DATA_NOT_SHARED: _F,
    Reason.ECERT_NOT_RECOGNISED: _F,
    Reason.SYSTEM_ERROR: _F,
    Reason.REPEAT_MATERIALS: _R,
    Reason.STANDARD_MISMATCH: _R,
    Reason.BUCK_PASSING: _R,
}

# Steps normally done in minutes (at a window or online); the others take days.
QUICK_STEPS = frozenset({
    StepKind.GUIDE, StepKind.IDENTITY, StepKind.APPLY, StepKind.SUBMIT, StepKind.ACCEPT,
    StepKind.VERIFY, StepKind.DATA_SHARE, StepKind.PAYMENT, StepKind.NOTIFY,
})


def base_probability(step: StepKind) -> float:
    return STEP_FAULTS[step][0]


def manifest_for(step: StepKind, reason: Reason) -> Manifest:
    """The trace an incident's reason leaves at this step."""
    for kind in STEP_FAULTS[step][1]:
        if kind.reason is reason:
            return kind.manifest
    return _GENERAL_MANIFEST.get(reason, Manifest.SILENT)


class FaultTable:
    """The faults that fit a (step, role, mode), with cumulative weights, cached per key."""

    def __init__(self) -> None:
        self._cache: dict[tuple[StepKind, Role, Mode], tuple[tuple[FaultKind, ...], tuple[float, ...]]] = {}

    def choices(self, step: StepKind, role: Role, mode: Mode) -> tuple[tuple[FaultKind, ...], tuple[float, ...]]:
        key = (step, role, mode)
        found = self._cache.get(key)
        if found is None:
            kinds = tuple(kind for kind in STEP_FAULTS[step][1] if kind.fits(role, mode))
            cumulative: list[float] = []
            total = 0.0
            for kind in kinds:
                total += kind.weight
                cumulative.append(total)
            found = self._cache[key] = (kinds, tuple(cumulative))
        return found
