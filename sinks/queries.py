"""Named, parameterised queries over the ClickHouse tables (never built from user input).

Each query is a constant with {name:Type} placeholders that the driver binds.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client


@dataclass(frozen=True, slots=True)
class Table:
    columns: list[str]
    rows: list[tuple[object, ...]]


RATINGS_BY_PROVINCE = """
SELECT province, count() AS ratings, sum(negative) AS negatives,
       round(100 * sum(negative) / count(), 1) AS negative_pct
FROM ratings GROUP BY province ORDER BY ratings DESC
"""

RATINGS_BY_MATTER = """
SELECT matter_code, count() AS ratings, sum(negative) AS negatives,
       round(100 * sum(negative) / count(), 1) AS negative_pct
FROM ratings GROUP BY matter_code ORDER BY ratings DESC
"""

CASE_EVENTS_BY_STEP = """
SELECT step, count() AS events, uniqExact(case_id) AS cases,
       countIf(action = 'return') AS send_backs, countIf(action = 'fail') AS failed_checks
FROM case_events GROUP BY step ORDER BY events DESC
"""

NEGATIVES_BY_ATTRIBUTED_STEP = """
SELECT step, uniqExact(rating_id) AS negatives,
       round(sumIf(weight, candidate_step = step), 1) AS weight_on_step,
       topKIf(1)(reason, reason IS NOT NULL)[1] AS top_reason,
       topKIf(1)(responsible_province, responsible_province IS NOT NULL)[1] AS top_province
FROM attributions WHERE is_primary = 1 GROUP BY step ORDER BY negatives DESC
"""

DEAD_LETTERS_BY_REASON = """
SELECT reason, count() AS messages FROM dead_letters GROUP BY reason ORDER BY messages DESC LIMIT 10
"""

TOTALS = """
SELECT (SELECT count() FROM ratings) AS ratings,
       (SELECT count() FROM case_events) AS case_events,
       (SELECT count() FROM dead_letters) AS dead_letters,
       (SELECT uniqExact(rating_id) FROM attributions) AS attributed_negatives
"""


def run(client: Client, sql: str, parameters: dict[str, object] | None = None) -> Table:
    result = client.query(sql, parameters=parameters or {})
    return Table(list(result.column_names), [tuple(row) for row in result.result_rows])
