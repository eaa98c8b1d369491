"""Timeline evidence: which steps of the case were late, sent the citizen back or failed a check.

Pure reading of the timeline's step facts (timeline.py); the engine decides how much each signal counts
against what the citizen wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from haochaping.codes import Reason, StepKind
from haochaping.timeline import StepFacts
from haochaping.tracing.lexicon import FAILURE_REASON
from haochaping.tracing.normalise import normalise

BREACH_BASE = 0.5  # a step over its limit
BREACH_PER_OVERRUN = 0.2  # … plus this per 100 % over the limit
BREACH_MAX = 0.9
RETURN_BASE = 0.35  # one send-back (退回补正)
FAIL_BASE = 0.4  # one failed check
REPEAT_STEP = 0.1  # each further send-back or failure
REPEAT_MAX = 0.6

_ECERT_WORDS = ("电子证照", "电子证", "电子版", "证照")
_STANDARD_WORDS = ("标准", "不符合", "不一致", "要求不", "格式", "模板", "口径")
_SYSTEM_WORDS = ("系统异常", "不可用", "故障", "报错", "稍后重试", "系统错误")


@dataclass(frozen=True, slots=True)
class Signal:
    step: StepKind
    reason: Reason
    strength: float
    kind: str  # "breach", "return" or "fail"
    evidence: str
    corroborates: frozenset[Reason]  # complaints this signal explains (太慢 ↔ a breach)


_INTAKE_STEPS = frozenset({StepKind.ACCEPT, StepKind.SUBMIT})
_DELAY_ONLY = frozenset({Reason.DELAY})
_RETURN_EXPLAINS = frozenset({Reason.REPEAT_MATERIALS, Reason.STANDARD_MISMATCH, Reason.MULTIPLE_TRIPS})
_DATA_REASONS = frozenset({Reason.DATA_NOT_SHARED, Reason.ECERT_NOT_RECOGNISED})


def timeline_signals(records: list[StepFacts]) -> list[Signal]:
    signals: list[Signal] = []
    for record in records:
        # Most steps of most cases are fine; test the cheap flags before anything else.
        if not (record.breached or record.returns or record.fails):
            continue
        step = record.step
        if record.breached and record.working_days is not None:
            strength = min(BREACH_MAX, BREACH_BASE + BREACH_PER_OVERRUN * record.overrun)
            state = "took" if record.completed else "open for"
            # A province's own limit says so: the national catalog shows another number.
            whose = f" in {record.limit_province}" if record.limit_province is not None else ""
            evidence = (
                f"timeline:{step.value} {state} {record.working_days:.1f} working days "
                f"(limit {record.limit_days}{whose})"
            )
            signals.append(Signal(step, Reason.DELAY, strength, "breach", evidence, _DELAY_ONLY))
        if record.returns:
            strength = min(REPEAT_MAX, RETURN_BASE + REPEAT_STEP * (record.returns - 1))
            accepted_in = {r.org.province for r in records if r.step in _INTAKE_STEPS}
            reason = _return_reason(record, accepted_in)
            evidence = f"timeline:{step.value} sent back {_times(record.returns)}"
            signals.append(Signal(step, reason, strength, "return", evidence, _RETURN_EXPLAINS))
        if record.fails:
            strength = min(REPEAT_MAX, FAIL_BASE + REPEAT_STEP * (record.fails - 1))
            reason = _fail_reason(record)
            evidence = f"timeline:{step.value} failed {_times(record.fails)}"
            corroborates = {reason, Reason.SYSTEM_ERROR, Reason.MULTIPLE_TRIPS}  # 白跑一趟: the check failed
            if reason in _DATA_REASONS:
                corroborates |= _DATA_REASONS
            signals.append(Signal(step, reason, strength, "fail", evidence, frozenset(corroborates)))
    return signals


def _return_reason(record: StepFacts, accepted_in: set[str]) -> Reason:
    """A send-back means materials again, unless it says the standards of two offices differ."""
    notes = normalise(" ".join(record.notes))
    if any(word in notes for word in _STANDARD_WORDS):
        return Reason.STANDARD_MISMATCH
    if any(word in notes for word in _ECERT_WORDS):
        return Reason.ECERT_NOT_RECOGNISED
    # The handling province refusing what the receiving province accepted: 标准不一.
    if accepted_in and record.org.province not in accepted_in and record.step == StepKind.REVIEW:
        return Reason.STANDARD_MISMATCH
    return Reason.REPEAT_MATERIALS


def _fail_reason(record: StepFacts) -> Reason:
    notes = normalise(" ".join(record.notes))
    if any(word in notes for word in _ECERT_WORDS):
        return Reason.ECERT_NOT_RECOGNISED
    if any(word in notes for word in _SYSTEM_WORDS):
        return Reason.SYSTEM_ERROR
    return Reason(FAILURE_REASON.get(record.step.value, Reason.OTHER.value))


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"
