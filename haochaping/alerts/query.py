"""The analyst query of an alert: the complaints behind it, as parameter-free ClickHouse SQL.

Literal values are only codes and timestamps, checked against their patterns and formatted
here, so quoting them is safe; anything else is refused rather than escaped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from haochaping.codes import PROVINCES, STEP_LABELS, StepKind

_MATTER = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_STEPS = frozenset(step.value for step in StepKind)
EVIDENCE_ROWS = 100


def evidence_query(province: str, matter_code: str | None, step: str, start: datetime, end: datetime) -> str:
    """SELECT the complaints at the key in [start, end) with their tracing evidence, strongest first."""
    where = [f"o.province = {_province(province)}", f"o.step = {_step(step)}"]
    if matter_code is not None:
        where.append(f"o.matter_code = {_matter(matter_code)}")
    where += [
        f"o.rated_at >= {_timestamp(start)}",
        f"o.rated_at < {_timestamp(end)}",
        "o.weight > 0",
    ]
    scope = matter_code if matter_code is not None else "all matters (pooled)"
    return (
        f"-- 差评 at {province} {PROVINCES[province]}, {scope}, {step} {STEP_LABELS[step]}\n"
        "SELECT o.rated_at, o.rating_id, o.matter_code, o.org_code, o.role, o.level, o.weight, o.reason,\n"
        "       a.step AS primary_step, a.responsible_province, a.responsible_org, a.evidence\n"
        "FROM step_observations AS o\n"
        "LEFT JOIN attributions AS a ON a.rating_id = o.rating_id AND a.candidate_step = o.step\n"
        "WHERE " + "\n  AND ".join(where) + "\n"
        "ORDER BY o.weight DESC, o.rated_at, o.rating_id\n"
        f"LIMIT {EVIDENCE_ROWS}"
    )


def _province(code: str) -> str:
    if code not in PROVINCES:
        raise ValueError(f"not a province code: {code!r}")
    return f"'{code}'"


def _step(code: str) -> str:
    if code not in _STEPS:
        raise ValueError(f"not a step kind: {code!r}")
    return f"'{code}'"


def _matter(code: str) -> str:
    if not _MATTER.match(code):
        raise ValueError(f"not a matter code: {code!r}")
    return f"'{code}'"


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamp without a UTC offset")
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"toDateTime64('{text}', 3, 'UTC')"
