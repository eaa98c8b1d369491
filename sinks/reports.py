"""The analysts' questions answered as JSON-ready records: periods, filters, and the dashboard payload.

Sits between sinks/analytics.py (the SQL) and its readers: `hcp report` (tables and the
HTML page) and the worker's live dashboard (streams/web.py) build the same payload here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from haochaping.codes import LEVEL_LABELS, MODE_LABELS, PROVINCES, REASON_LABELS, STEP_LABELS
from haochaping.privacy import mask_personal_data
from sinks import analytics
from sinks.analytics import Runner
from sinks.queries import Table

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
DEFAULT_DAYS = 7
DEFAULT_HISTORY_DAYS = 28
SAMPLE_COMMENTS_PER_ROW = 3
TRENDS_ON_DASHBOARD = 3


@dataclass(frozen=True, slots=True)
class Period:
    """[since, until) in UTC, and the history window [history_since, since) before it."""

    since: datetime
    until: datetime
    history_since: datetime

    @property
    def table(self) -> str:
        """Whole Beijing days read the daily table (fewer rows); anything else the hourly one."""
        whole_days = all(
            moment.astimezone(BEIJING).time() == datetime.min.time() for moment in (self.since, self.until)
        )
        return "step_stats_daily" if whole_days else "step_stats_hourly"

    @property
    def hours(self) -> float:
        return (self.until - self.since).total_seconds() / 3600

    def parameters(self) -> dict[str, object]:
        return {
            "since": _sql_time(self.since),
            "until": _sql_time(self.until),
            "history_since": _sql_time(self.history_since),
            "stats": self.table,
        }

    def describe(self) -> str:
        since, until = self.since.astimezone(BEIJING), self.until.astimezone(BEIJING)
        return f"{since:%Y-%m-%d %H:%M} — {until:%Y-%m-%d %H:%M} (北京时间)"


@dataclass(frozen=True, slots=True)
class Filters:
    """What an analyst narrows to; empty strings mean "all"."""

    province: str = ""
    matter: str = ""
    mode: str = ""
    step: str = ""
    limit: int = 20
    min_ratings: int = 30

    def parameters(self) -> dict[str, object]:
        return {
            "province": self.province,
            "matter": self.matter,
            "mode": self.mode,
            "step": self.step,
            "limit": self.limit,
            "min_ratings": self.min_ratings,
        }


def parse_moment(text: str) -> datetime:
    """A date (Beijing midnight), a naive time (Beijing) or an RFC 3339 time, as aware UTC."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=BEIJING).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (2026-11-20) or a time (2026-11-20T09:00:00+08:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.astimezone(UTC)


def resolve_period(
    run: Runner,
    since: datetime | None = None,
    until: datetime | None = None,
    days: float = DEFAULT_DAYS,
    history_days: float = DEFAULT_HISTORY_DAYS,
) -> Period:
    """Fill in what the analyst left out: the period ends at the newest hour stored (not the wall clock,
    so replayed or simulated data read naturally) and lasts `days`."""
    if until is None:
        if since is not None:
            until = since + timedelta(days=days)
        else:
            _, end, stored = run(analytics.DATA_RANGE, {}).rows[0]
            if stored and isinstance(end, datetime | str):
                until = _as_utc(end if isinstance(end, datetime) else datetime.fromisoformat(end))
            else:
                until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if since is None:
        since = until - timedelta(days=days)
    if since >= until:
        raise ValueError("the period is empty: --since must be before --until")
    return Period(since, until, since - timedelta(days=history_days))


def query(run: Runner, name: str, period: Period, filters: Filters, **extra: object) -> list[dict[str, Any]]:
    """Run a named query with the period and filters bound; rows as JSON-ready dicts."""
    parameters = {**period.parameters(), **filters.parameters(), **extra}
    return records(run(analytics.NAMED_QUERIES[name].sql, parameters))


def priorities(
    run: Runner, period: Period, filters: Filters, samples: int = SAMPLE_COMMENTS_PER_ROW
) -> list[dict[str, Any]]:
    """Redesign priorities, each with up to `samples` masked comments for the first rows."""
    rows = query(run, "priorities", period, filters)
    for index, row in enumerate(rows):
        row["sample_comments"] = sample_comments(run, period, row, samples) if index < 10 and samples else []
    return rows


def sample_comments(run: Runner, period: Period, row: Mapping[str, Any], limit: int) -> list[str]:
    parameters = {
        **period.parameters(),
        "province": row["province"],
        "matter": row["matter_code"],
        "mode": row["mode"],
        "step": row["step"],
        "limit": limit,
    }
    found = run(analytics.SAMPLE_COMMENTS, parameters)
    return [mask_personal_data(str(comment)) for comment, *_ in found.rows if comment]


def reducible(
    run: Runner, period: Period, filters: Filters, min_share: float = 0.5, min_negatives: float = 1.0
) -> list[dict[str, Any]]:
    return query(
        run,
        "reducible",
        period,
        filters,
        reasons=list(analytics.REDUCIBLE_REASONS),
        min_share=min_share,
        min_negatives=min_negatives,
    )


def handoffs(run: Runner, period: Period, filters: Filters, cross_only: bool = True) -> list[dict[str, Any]]:
    return query(run, "handoffs", period, filters, steps=list(analytics.HANDOFF_STEPS), cross_only=cross_only)


def alerts(run: Runner, period: Period, filters: Filters, active_only: bool = False) -> list[dict[str, Any]]:
    return query(run, "alerts", period, filters, active_only=active_only)


def trend(run: Runner, period: Period, filters: Filters) -> list[dict[str, Any]]:
    if not filters.step:
        raise ValueError("a trend needs a step (--step)")
    return query(run, "trend", period, filters)


def comparison(run: Runner, period: Period, filters: Filters) -> list[dict[str, Any]]:
    if not filters.matter or not filters.step:
        raise ValueError("a comparison needs a matter and a step (--matter, --step)")
    return query(run, "compare", period, filters)


def trend_period(period: Period) -> Period:
    """Trends read hours over a few days and days over longer periods."""
    if period.hours <= 96:
        return Period(period.since, period.until, period.history_since)
    since = period.since.astimezone(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    until = period.until.astimezone(BEIJING)
    if until.time() != datetime.min.time():
        until = until.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return Period(since.astimezone(UTC), until.astimezone(UTC), period.history_since)


def dashboard_payload(run: Runner, period: Period, filters: Filters, matter_names: Mapping[str, str]) -> dict[str, Any]:
    """Everything the dashboard and the HTML report draw, as one JSON-ready dict."""
    top = priorities(run, period, filters)
    trend_window = trend_period(period)
    trends = []
    for row in top[:TRENDS_ON_DASHBOARD]:
        key = Filters(province=row["province"], matter=row["matter_code"], mode=row["mode"], step=row["step"])
        trends.append(
            {
                "key": {name: row[name] for name in ("province", "matter_code", "mode", "step")},
                "granularity": "day" if trend_window.table == "step_stats_daily" else "hour",
                "points": trend(run, trend_window, key),
                "alerts": alerts(run, period, key),
            }
        )
    payload: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "period": {
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "label": period.describe(),
            "table": period.table,
        },
        "filters": filters.parameters(),
        "priorities": top,
        "alerts": alerts(run, period, Filters(province=filters.province, matter=filters.matter), active_only=True),
        "heatmap": query(run, "heatmap", period, filters),
        "trends": trends,
        "reducible": reducible(run, period, filters),
        "handoffs": handoffs(run, period, filters),
    }
    payload["labels"] = labels(run, payload, matter_names)
    return payload


def labels(run: Runner, payload: Mapping[str, Any], matter_names: Mapping[str, str]) -> dict[str, Any]:
    """Chinese names for every code the payload mentions."""
    orgs = {row["top_org"] for row in payload["priorities"] if row.get("top_org")}
    for alert in payload["alerts"]:
        orgs.update(alert.get("responsible_orgs") or [])
    found = run(analytics.ORG_NAMES, {"codes": sorted(orgs)}).rows if orgs else []
    org_names = {str(row[0]): str(row[1]) for row in found}
    return {
        "provinces": PROVINCES,
        "steps": STEP_LABELS,
        "reasons": {**REASON_LABELS, "": "(未注明)"},
        "modes": {str(mode): label for mode, label in MODE_LABELS.items()},
        "levels": {str(level): label for level, label in LEVEL_LABELS.items()},
        "matters": dict(matter_names),
        "orgs": org_names,
    }


def records(table: Table) -> list[dict[str, Any]]:
    return [{name: json_safe(value) for name, value in zip(table.columns, row, strict=True)} for row in table.rows]


def json_safe(value: object) -> Any:
    """Values ClickHouse returns, as JSON can carry them (NaN and infinities become null)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return _as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [json_safe(item) for item in value]
    return str(value)


def _as_utc(moment: datetime) -> datetime:
    # chDB returns naive datetimes in UTC for the 'UTC' columns.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sql_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
