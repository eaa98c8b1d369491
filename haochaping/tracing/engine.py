"""trace(): weighs a rating's comment, tags and portal step against its case timeline.

The one entry point the stream worker and the batch command call; pure and deterministic.
Weights and thresholds are named below and explained in docs/tracing.md.
"""

from __future__ import annotations

import math
from datetime import timedelta

from haochaping.catalog import Catalog
from haochaping.codes import AttributionLabel, Channel, Reason, StepKind
from haochaping.events import RatingEvent
from haochaping.holidays import official_calendar
from haochaping.timeline import CaseTimeline, StepFacts, outside_calendar
from haochaping.tracing import lexicon
from haochaping.tracing import reading as _reading
from haochaping.tracing.attribution import Attribution, Candidate, rounded_weights
from haochaping.tracing.reading import Reading
from haochaping.tracing.responsibility import assign, policy_owner
from haochaping.tracing.signals import Signal, timeline_signals
from haochaping.workdays import CalendarNotCovered, DateRange, WorkCalendar

TEXT_CAP = 2.0  # however often a comment repeats a step, it counts at most this much
IMPLIED_CAP = 0.8  # a step only implied by a reason word (刷不过 → IDENTITY via IDENTITY_FAIL)
IMPLIED_SCALE = 0.6
IMPLIED_ELSEWHERE = 0.5  # … when the portal says the rating was given at another step
TAG_WEIGHT = 0.5  # a reason tag the rater ticked, towards the step it implies
PORTAL_WEIGHT = 0.25  # the step the portal says the rating was given at, beside a step the text names
# When the text names no step outright (no score >= EXPLICIT), the touchpoint is the best
# evidence there is (一次一评: the rating was given there): above MIN_SCORE and above what a
# reason word implies, below a timeline breach.
PORTAL_ALONE = 0.45
EXPLICIT = 0.7  # text scores at least this name a step outright
DAMPED = 0.35  # timeline hints about other steps when the citizen named one
CORROBORATED = 1.6  # a timeline signal that explains the complaint (太慢 + a breach)
GENERIC_DELAY = 0.6
# Steps whose usual fault is the time they take: there, "slow" is the specific complaint.
TIMED_STEPS = frozenset({"REVIEW", "DECIDE", "TRANSFER"})
MIN_SCORE = 0.3  # below this the best label is a guess: UNKNOWN
MIN_SHARE = 0.03  # candidates weaker than this share of the total are dropped
MAX_EVIDENCE = 12
# Office clocks and portal clocks differ by seconds; an event stamped just after the rating
# (the completion that triggered it) still belongs to what was rated.
CLOCK_GRACE = timedelta(minutes=5)
# Starts the evidence line of a rating whose timeline was measured on dates the calendar does not cover.
CALENDAR_EVIDENCE = "calendar:"

_ORDER = [*StepKind, AttributionLabel.JOURNEY, AttributionLabel.POLICY]
_STEPS = frozenset(step.value for step in StepKind)
_RANK = {label.value: index for index, label in enumerate(_ORDER)}
_REASON_RANK = {reason.value: index for index, reason in enumerate(Reason)}


def trace(
    rating: RatingEvent,
    timeline: CaseTimeline | None,
    catalog: Catalog,
    calendar: WorkCalendar | None = None,
    *,
    strict_calendar: bool = False,
) -> Attribution:
    """Attribute one rating to a step, reason and responsible organisation.

    Positive ratings (level >= 3) are not attributed: negative False, everything else empty and
    confidence 1.0 (certain there is nothing to trace). A timeline for another case is an error.
    Working days are counted on `calendar` (default: the official one); where the timeline was
    measured on dates it does not cover, they count Mon–Fri and the evidence ends with a
    `calendar:` line, or, with `strict_calendar`, CalendarNotCovered names those dates.
    """
    if not rating.negative:
        return Attribution(rating.rating_id, False, None, None, None, (), 1.0, ())
    if timeline is not None and timeline.case_id != rating.case_id:
        raise ValueError(f"rating {rating.rating_id} is for case {rating.case_id}, not {timeline.case_id}")
    calendar = calendar if calendar is not None else official_calendar()
    reading = _reading.cached_read_comment(rating.comment)
    records = timeline.step_facts(catalog, calendar, as_of=rating.rated_at + CLOCK_GRACE) if timeline else []
    note = _calendar_note(records, calendar, strict_calendar)
    signals = timeline_signals(records)
    scores, evidence = _score(rating, reading, signals)
    best = max(scores.values(), default=0.0)
    if best < MIN_SCORE:
        return _unknown(rating, reading, signals, evidence, note)

    ranked = sorted(
        (label for label, score in scores.items() if score >= MIN_SHARE * sum(scores.values())),
        key=lambda label: (-round(scores[label], 9), reading.first_seen.get(label, 1 << 20), _RANK[label]),
    )
    weights = rounded_weights([scores[label] for label in ranked])
    candidates = tuple(
        Candidate(label, weight, _reason_for(label, rating, reading, signals))
        for label, weight in zip(ranked, weights, strict=True)
    )
    primary = candidates[0]
    responsible = None
    certainty = 1.0
    extra: tuple[str, ...] = ()
    by_step: dict[StepKind, StepFacts] = {record.step: record for record in records}
    if primary.step in _STEPS:
        assignment = assign(StepKind(primary.step), rating, by_step, timeline, catalog)
        responsible, certainty, extra = assignment.responsible, assignment.certainty, assignment.evidence
    elif primary.step == AttributionLabel.POLICY:
        assignment = policy_owner(rating, by_step)
        responsible, certainty, extra = assignment.responsible, assignment.certainty, assignment.evidence
    strength = 1.0 - math.exp(-scores[primary.step])
    confidence = round(primary.weight * strength * certainty, 4)
    lines = [line for label in ranked for line in evidence.get(label, [])] + evidence.get("", [])
    lines += reading.reason_evidence + reading.negation_evidence + list(extra)
    return Attribution(
        rating_id=rating.rating_id,
        negative=True,
        step=primary.step,
        reason=primary.reason,
        responsible=responsible,
        steps=candidates,
        confidence=confidence,
        evidence=_dedupe(lines, note),
    )


def calendar_evidence(dates: DateRange, calendar: WorkCalendar) -> str:
    """The evidence line saying that working days on `dates` were counted Mon–Fri."""
    covers = calendar.covers
    years = f" ({covers.years})" if covers is not None else ""
    return f"{CALENDAR_EVIDENCE}{dates} outside the {calendar.name}{years}: working days counted Mon–Fri"


def _calendar_note(records: list[StepFacts], calendar: WorkCalendar, strict: bool) -> str | None:
    dates = outside_calendar(records, calendar)
    if dates is None:
        return None
    if strict:
        raise CalendarNotCovered(dates, calendar)
    return calendar_evidence(dates, calendar)


def _score(
    rating: RatingEvent, reading: Reading, signals: list[Signal]
) -> tuple[dict[str, float], dict[str, list[str]]]:
    scores: dict[str, float] = {}
    evidence: dict[str, list[str]] = {}

    def add(label: str, amount: float, line: str | None) -> None:
        if amount <= 0 or label in reading.exonerated:
            return
        scores[label] = scores.get(label, 0.0) + amount
        if line is not None:
            evidence.setdefault(label, []).append(line)

    for label, score in reading.labels.items():
        add(label, min(score, TEXT_CAP), None)
        evidence.setdefault(label, []).extend(reading.label_evidence.get(label, []))
    for label, score in reading.implied.items():
        if rating.channel == Channel.HOTLINE and label == StepKind.ACCEPT and "ATTITUDE" in reading.reasons:
            label = StepKind.GUIDE.value  # rude on the 12345 line: the consultation, not a window
        if rating.step is not None and label != rating.step.value:
            score *= IMPLIED_ELSEWHERE  # the touchpoint is where an unnamed failure most likely happened
        add(label, min(score * IMPLIED_SCALE, IMPLIED_CAP), None)
    for tag in rating.tags:
        label, strength = lexicon.REASON_IMPLIES.get(tag.value, ("", 0.0))
        if tag == Reason.ATTITUDE and rating.channel == Channel.HOTLINE:
            label = StepKind.GUIDE.value
        evidence.setdefault("", []).append(f"tag:{tag.value}")  # listed whatever it implies
        if label:
            add(label, TAG_WEIGHT * strength, None)
    if rating.step is not None:
        named = max(reading.labels.values(), default=0.0) >= EXPLICIT
        weight = PORTAL_WEIGHT if named else PORTAL_ALONE
        add(rating.step.value, weight, f"portal_step:{rating.step.value}")

    # Only a step the citizen names outweighs the timeline: 白跑一趟 says a trip was wasted, not where.
    explicit = max((score for label, score in reading.labels.items() if label in _STEPS), default=0.0) >= EXPLICIT
    complained = {reason for reason, weight in reading.reasons.items() if weight >= 0.3}
    complained |= {tag.value for tag in rating.tags}
    for signal in signals:
        step = signal.step.value
        factor = 1.0
        if explicit and step not in reading.labels:
            factor = DAMPED  # the citizen's own words outweigh a weak hint elsewhere
        elif signal.corroborates & complained:
            factor = CORROBORATED
        add(step, signal.strength * factor, signal.evidence)
    return scores, evidence


def _reason_for(label: str, rating: RatingEvent, reading: Reading, signals: list[Signal]) -> str:
    """The reason a candidate gets: its own words first, then the comment's, tags, timeline."""
    allowed = lexicon.LABEL_REASONS.get(label)
    weights: dict[str, float] = {}

    # A failure word (老是失败) means whatever failed at this step; the timeline may say what.
    failed_as = next((s.reason.value for s in signals if s.kind == "fail" and s.step.value == label), None)

    def add(reason: str, amount: float) -> None:
        if reason == lexicon.FAILURE:
            reason = failed_as or lexicon.FAILURE_REASON.get(label, Reason.OTHER.value)
        if reason == Reason.DELAY and label not in TIMED_STEPS:
            amount *= GENERIC_DELAY  # "slow" is the fallback complaint; a specific one says more
        homes = lexicon.REASON_HOMES.get(reason)
        if homes is not None and label not in homes:
            return
        if allowed is not None and reason not in allowed:
            return
        weights[reason] = weights.get(reason, 0.0) + amount

    for reason, weight in reading.label_reasons.get(label, {}).items():
        add(reason, weight)
    for reason, weight in reading.reasons.items():
        add(reason, 0.5 * weight)
    for tag in rating.tags:
        implied = lexicon.REASON_IMPLIES.get(tag.value, ("", 0.0))[0]
        add(tag.value, 1.0 if implied == label else 0.8)
    for signal in signals:
        if signal.step.value == label:
            # A failed check says more about why than a breach, which only says "slow".
            add(signal.reason.value, (0.6 if signal.kind != "breach" else 0.4) * signal.strength)
    if not weights:
        return lexicon.DEFAULT_REASON.get(label, Reason.OTHER.value)
    best = max(weights, key=lambda reason: (round(weights[reason], 9), -_REASON_RANK[reason]))
    return lexicon.SLOW_AS.get(label, best) if best == Reason.DELAY else best


def _unknown(
    rating: RatingEvent,
    reading: Reading,
    signals: list[Signal],
    evidence: dict[str, list[str]],
    note: str | None,
) -> Attribution:
    """No evidence of where: say so rather than guess. The reason may still be known (太慢了)."""
    reasons = {r: w for r, w in reading.reasons.items() if r != lexicon.FAILURE}
    for tag in rating.tags:
        reasons[tag.value] = reasons.get(tag.value, 0.0) + 0.8
    reason = max(reasons, key=lambda r: (round(reasons[r], 9), -_REASON_RANK[r])) if reasons else Reason.OTHER.value
    lines = [line for group in evidence.values() for line in group] + reading.reason_evidence
    lines += reading.negation_evidence + [signal.evidence for signal in signals]
    unknown = AttributionLabel.UNKNOWN.value
    return Attribution(
        rating_id=rating.rating_id,
        negative=True,
        step=unknown,
        reason=reason,
        responsible=None,
        steps=(Candidate(unknown, 1.0, reason),),
        confidence=0.0,
        evidence=_dedupe(lines, note),
    )


def _dedupe(lines: list[str], last: str | None = None) -> tuple[str, ...]:
    """Distinct lines, at most MAX_EVIDENCE; `last` (the calendar note) is never cut."""
    if last is None:
        return tuple(dict.fromkeys(lines))[:MAX_EVIDENCE]
    return (*tuple(dict.fromkeys(lines))[: MAX_EVIDENCE - 1], last)
