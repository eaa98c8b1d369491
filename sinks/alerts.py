"""Alerts into ClickHouse: one row per alert message, replacing by alert_id.

The alerts table (migration 0004) is a ReplacingMergeTree keyed by the deterministic
alert_id, so an alert emitted again after a replay replaces itself instead of doubling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC

from clickhouse_connect.driver.client import Client

from haochaping.alerts import Alert
from haochaping.codes import REASON_LABELS
from sinks.clickhouse import WRITE_SETTINGS

ALERT_COLUMNS = (
    "alert_id",
    "state",
    "province",
    "matter_code",
    "step",
    "window_start",
    "window_end",
    "ratings",
    "negatives",
    "rate",
    "baseline",
    "score",
    "top_reasons",
    "examples",
    "organisations",
    "query",
)


def alert_row(alert: Alert) -> tuple[object, ...]:
    return (
        alert.alert_id,
        alert.state,
        alert.province,
        alert.matter_code or "",
        alert.step,
        alert.window_start.astimezone(UTC),
        alert.window_end.astimezone(UTC),
        alert.ratings,
        alert.negatives,
        alert.rate,
        alert.baseline,
        alert.score,
        [(share.reason, REASON_LABELS.get(share.reason, share.reason), share.negatives) for share in alert.top_reasons],
        list(alert.examples),
        [(org.org, org.role, org.ratings, org.negatives) for org in alert.organisations],
        alert.query,
    )


def write_alerts(client: Client, alerts: Sequence[Alert]) -> None:
    if not alerts:
        return
    token = hashlib.sha256("|".join(alert.alert_id for alert in alerts).encode()).hexdigest()[:24]
    client.insert(
        "alerts",
        [alert_row(alert) for alert in alerts],
        column_names=list(ALERT_COLUMNS),
        settings={**WRITE_SETTINGS, "insert_deduplication_token": f"alerts:{token}"},
    )
