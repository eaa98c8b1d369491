"""The analysts' named queries over the per-step aggregates, and read-only access to run them.

Sits in sinks/, beside queries.py: constant SQL with {name:Type} placeholders bound by
ClickHouse; `hcp report`, `hcp sql --named`, the worker's dashboard and docs/analysts.md use these.

Complaint rate of a step = sum(negatives) / sum(ratings) over step_stats_hourly or
step_stats_daily: every rating of a case that went through the step counts once below
the line, and the share of its complaint attributed to the step (0-1) above it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.queries import Table

# (sql, parameters) -> Table: a local client, or the worker's /sql endpoint.
Runner = Callable[[str, Mapping[str, object]], Table]

# The reasons that say "this step could be cut or replaced by data sharing".
REDUCIBLE_REASONS: tuple[str, ...] = ("REPEAT_MATERIALS", "DATA_NOT_SHARED", "ECERT_NOT_RECOGNISED", "MULTIPLE_TRIPS")
HANDOFF_STEPS: tuple[str, ...] = ("TRANSFER", "DATA_SHARE")

# Readers get a handle that cannot write, cannot read files or URLs (table functions
# are refused in readonly=1), and cannot run away with the worker's memory.
READ_ONLY_SETTINGS: dict[str, Any] = {
    "max_execution_time": 60,
    "max_result_rows": 100_000,
    "result_overflow_mode": "break",
    "readonly": 1,
}

# Rows of a period filter shared by every aggregate query. {stats:Identifier} is
# step_stats_hourly or step_stats_daily, chosen by Period.table (never user text).
_FILTERS = """
      period >= {since:DateTime} AND period < {until:DateTime}
  AND ({matter:String} = '' OR matter_code = {matter:String})
  AND ({mode:String} = '' OR mode = {mode:String})
"""

DATA_RANGE = """
SELECT min(period) AS first_hour, max(period) + INTERVAL 1 HOUR AS end_hour, sum(ratings) AS ratings
FROM step_stats_hourly
"""

# Excess complaints of (province, matter, mode, step): negatives above what the step's
# benchmark rate predicts for its ratings. Benchmark = the mean of the rate of the same
# (matter, mode, step) in every other province in the period and the step's own rate in
# the history window before it, whichever of them has at least min_ratings ratings.
# priority = excess minus two standard errors of the count: avoidable complaints that
# chance does not explain; ranking by it keeps small noisy cells from the top.
PRIORITIES = (
    """
WITH by_org AS (
    SELECT province, matter_code, mode, step, org_code,
           sum(ratings) AS org_n, sum(negatives) AS org_w, sumMap(weight_by_reason) AS org_reasons,
           sum(steps_completed) AS org_steps, sum(breaches) AS org_breached, sum(sent_back_steps) AS org_sent_back
    FROM {stats:Identifier}
    WHERE """
    + _FILTERS
    + """
    GROUP BY province, matter_code, mode, step, org_code
),
current AS (
    SELECT province, matter_code, mode, step, sum(org_n) AS n, sum(org_w) AS w, sumMap(org_reasons) AS reasons,
           argMax(org_code, org_w) AS top_org, sum(org_steps) AS steps, sum(org_breached) AS breached,
           sum(org_sent_back) AS sent_back
    FROM by_org GROUP BY province, matter_code, mode, step
),
peers AS (
    SELECT matter_code, mode, step, sum(n) AS n_all, sum(w) AS w_all, uniqExact(province) AS provinces
    FROM current GROUP BY matter_code, mode, step
),
history AS (
    SELECT province, matter_code, mode, step, sum(ratings) AS n_hist, sum(negatives) AS w_hist
    FROM {stats:Identifier}
    WHERE period >= {history_since:DateTime} AND period < {since:DateTime}
      AND ({matter:String} = '' OR matter_code = {matter:String})
      AND ({mode:String} = '' OR mode = {mode:String})
      AND ({province:String} = '' OR province = {province:String})
    GROUP BY province, matter_code, mode, step
),
scored AS (
    SELECT c.province AS province, c.matter_code AS matter_code, c.mode AS mode, c.step AS step,
           c.n AS ratings, c.w AS negatives, c.w / c.n AS rate,
           if(p.n_all - c.n >= {min_ratings:UInt32}, (p.w_all - c.w) / (p.n_all - c.n), NULL) AS peer_rate,
           if(h.n_hist >= {min_ratings:UInt32}, h.w_hist / h.n_hist, NULL) AS history_rate,
           coalesce((peer_rate + history_rate) / 2, peer_rate, history_rate) AS expected_rate,
           c.w - c.n * peer_rate AS excess_vs_peers,
           c.w - c.n * history_rate AS excess_vs_history,
           c.w - c.n * expected_rate AS excess,
           excess - 2 * sqrt(c.n * greatest(expected_rate, 0.5 / c.n) * (1 - least(expected_rate, 0.999)))
               AS priority,
           arraySlice(arraySort(x -> -x.2, arrayZip(mapKeys(c.reasons), mapValues(c.reasons))), 1, 3)
               AS top_reasons,
           c.top_org AS top_org, p.provinces AS provinces_compared,
           if(c.steps > 0, c.breached / c.steps, NULL) AS breach_rate,
           if(c.steps > 0, c.sent_back / c.steps, NULL) AS send_back_rate
    FROM current AS c
    INNER JOIN peers AS p USING (matter_code, mode, step)
    LEFT JOIN history AS h USING (province, matter_code, mode, step)
    WHERE c.n > 0 AND ({province:String} = '' OR c.province = {province:String})
      AND ({step:String} = '' OR c.step = {step:String})
)
SELECT province, matter_code, mode, step, ratings, round(negatives, 2) AS negatives, round(rate, 4) AS rate,
       round(peer_rate, 4) AS peer_rate, round(history_rate, 4) AS history_rate,
       round(excess_vs_peers, 2) AS excess_vs_peers, round(excess_vs_history, 2) AS excess_vs_history,
       round(excess, 2) AS excess, round(priority, 2) AS priority,
       arrayMap(x -> (x.1, round(x.2, 2)), top_reasons) AS top_reasons, top_org, provinces_compared,
       round(breach_rate, 4) AS breach_rate, round(send_back_rate, 4) AS send_back_rate
FROM scored
WHERE excess > 0
ORDER BY priority DESC, excess DESC
LIMIT {limit:UInt32}
"""
)

# A few comments behind a cell, newest first (masked at storage, masked again on output).
SAMPLE_COMMENTS = """
SELECT r.comment AS comment, r.level AS level, o.reason AS reason
FROM step_observations AS o
INNER JOIN (
    SELECT rating_id, comment, level FROM ratings
    WHERE rated_at >= {since:DateTime} AND rated_at < {until:DateTime} AND matter_code = {matter:String}
      AND comment IS NOT NULL AND comment != ''
) AS r ON r.rating_id = o.rating_id
WHERE o.province = {province:String} AND o.matter_code = {matter:String} AND o.mode = {mode:String}
  AND o.step = {step:String} AND o.rated_at >= {since:DateTime} AND o.rated_at < {until:DateTime}
  AND o.weight >= 0.5
ORDER BY o.weight DESC, o.rated_at DESC
LIMIT 1 BY r.comment
LIMIT {limit:UInt32}
"""

# 对标: one matter and step, every province; best = lowest complaint rate among the
# provinces with at least min_ratings ratings, ties broken by the shorter median.
COMPARISON = (
    """
WITH by_province AS (
    SELECT province, sum(ratings) AS n, sum(negatives) AS w, sum(steps_completed) AS steps,
           quantilesMerge(0.5, 0.9)(working_days_q) AS q, sum(breaches) AS breached,
           sum(sent_back_steps) AS sent_back, sumMap(weight_by_reason) AS reasons
    FROM {stats:Identifier}
    WHERE step = {step:String} AND """
    + _FILTERS
    + """
    GROUP BY province
)
SELECT province, n AS ratings, round(w, 2) AS negatives, if(n > 0, round(w / n, 4), NULL) AS rate,
       steps AS steps_completed, if(steps > 0, round(q[1], 2), NULL) AS median_days,
       if(steps > 0, round(q[2], 2), NULL) AS p90_days,
       if(steps > 0, round(breached / steps, 4), NULL) AS breach_rate,
       if(steps > 0, round(sent_back / steps, 4), NULL) AS send_back_rate,
       arraySlice(arraySort(x -> -x.2, arrayZip(mapKeys(reasons), mapValues(reasons))), 1, 1)[1].1 AS top_reason,
       n >= {min_ratings:UInt32} AS eligible,
       eligible AND row_number() OVER (ORDER BY eligible DESC, w / greatest(n, 1), ifNull(q[1], 1e9)) = 1 AS best
FROM by_province
ORDER BY eligible DESC, rate, median_days
"""
)

# 可精简的环节: (matter, mode, step) whose complaint weight is mostly for reasons that data
# sharing or removing the step would answer.
REDUCIBLE = (
    """
WITH cells AS (
    SELECT matter_code, mode, step, sum(ratings) AS n, sum(negatives) AS w, sum(steps_completed) AS steps,
           sumMap(weight_by_reason) AS reasons, uniqExactIf(province, negatives > 0) AS provinces
    FROM {stats:Identifier}
    WHERE ({province:String} = '' OR province = {province:String}) AND """
    + _FILTERS
    + """
    GROUP BY matter_code, mode, step
)
SELECT matter_code, mode, step, n AS ratings, steps AS steps_completed, round(w, 2) AS negatives,
       round(w / n, 4) AS rate,
       mapFilter((k, v) -> has({reasons:Array(String)}, k), reasons) AS reducible_reasons,
       round(arraySum(mapValues(reducible_reasons)), 2) AS reducible,
       round(reducible / w, 3) AS reducible_share,
       arrayMap(x -> (x.1, round(x.2, 2)), arraySort(x -> -x.2, arrayZip(mapKeys(reducible_reasons),
           mapValues(reducible_reasons)))) AS by_reason,
       provinces
FROM cells
WHERE n > 0 AND w > 0 AND reducible >= {min_negatives:Float64} AND reducible / w >= {min_share:Float64}
ORDER BY reducible DESC
LIMIT {limit:UInt32}
"""
)

# Hand-offs by province pair. TRANSFER: sender → receiver of the materials. DATA_SHARE:
# the case's handling province (which asks) → the data provider's province.
HANDOFFS = """
WITH handoffs AS (
    SELECT case_id, step, matter_code, completed_at, working_days, breached, send_backs, failed_checks,
           handoff_transit_days,
           if(step = 'TRANSFER', handoff_from_province, handling.province) AS from_province,
           if(step = 'TRANSFER', handoff_to_province, s.org_province) AS to_province
    FROM case_steps AS s
    LEFT JOIN (
        SELECT case_id, anyIf(org_province, org_role = 'HANDLING') AS province FROM case_steps
        WHERE step IN ('REVIEW', 'DECIDE', 'ACCEPT') AND completed_at >= {since:DateTime} - INTERVAL 30 DAY
        GROUP BY case_id
    ) AS handling USING (case_id)
    WHERE s.step IN {steps:Array(String)}
      AND s.completed_at >= {since:DateTime} - INTERVAL 30 DAY AND s.completed_at < {until:DateTime}
      AND ({matter:String} = '' OR s.matter_code = {matter:String})
),
complaints AS (
    SELECT case_id, candidate_step AS step, sum(weight) AS w, groupArray(candidate_reason) AS reasons
    FROM attributions
    WHERE candidate_step IN {steps:Array(String)} AND case_id IS NOT NULL
      AND rated_at >= {since:DateTime} AND rated_at < {until:DateTime}
    GROUP BY case_id, step
),
rated AS (
    SELECT DISTINCT assumeNotNull(case_id) AS case_id FROM ratings
    WHERE case_id IS NOT NULL AND rated_at >= {since:DateTime} AND rated_at < {until:DateTime}
)
SELECT h.step AS step, h.from_province AS from_province, h.to_province AS to_province,
       h.from_province != h.to_province AS cross_province,
       countIf(h.completed_at >= {since:DateTime}) AS handoffs,
       countIf(h.case_id IN (SELECT case_id FROM rated)) AS rated_handoffs,
       round(sum(c.w), 2) AS negatives,
       if(rated_handoffs > 0, round(negatives / rated_handoffs, 4), NULL) AS rate,
       round(quantileIf(0.5)(coalesce(h.handoff_transit_days, h.working_days), h.completed_at >= {since:DateTime}), 2)
           AS median_days,
       if(handoffs > 0, round(countIf(h.breached = 1 AND h.completed_at >= {since:DateTime}) / handoffs, 4), NULL)
           AS breach_rate,
       sumIf(h.send_backs + h.failed_checks, h.completed_at >= {since:DateTime}) AS returns_and_failures,
       topK(1)(arrayJoin(if(empty(c.reasons), [NULL], c.reasons)))[1] AS top_reason
FROM handoffs AS h
LEFT JOIN complaints AS c ON c.case_id = h.case_id AND c.step = h.step
WHERE h.from_province != '' AND h.to_province != ''
  AND (NOT {cross_only:Bool} OR h.from_province != h.to_province)
  AND ({province:String} = '' OR h.from_province = {province:String} OR h.to_province = {province:String})
GROUP BY step, from_province, to_province
HAVING handoffs > 0
ORDER BY negatives DESC, rate DESC
LIMIT {limit:UInt32}
"""

# A step's complaint rate over time, beside the same step in the other provinces.
TREND = (
    """
SELECT t.period AS period,
       sumIf(t.ratings, {province:String} = '' OR t.province = {province:String}) AS n,
       sumIf(t.negatives, {province:String} = '' OR t.province = {province:String}) AS w,
       sumIf(t.ratings, {province:String} != '' AND t.province != {province:String}) AS peer_n,
       sumIf(t.negatives, {province:String} != '' AND t.province != {province:String}) AS peer_w,
       n AS ratings, round(w, 2) AS negatives, if(n > 0, round(w / n, 4), NULL) AS rate,
       peer_n AS peer_ratings, if(peer_n > 0, round(peer_w / peer_n, 4), NULL) AS peer_rate
FROM {stats:Identifier} AS t
WHERE step = {step:String} AND """
    + _FILTERS
    + """
GROUP BY t.period
ORDER BY period
"""
)

# Alerts of the spike detector that overlap a period, newest state of each row. Firing and
# resolved are separate alerts (their ids differ); a firing alert is active until a
# resolved alert of the same key ends at or after its window start.
ALERTS = """
WITH resolved AS (
    SELECT province, matter_code, step, max(window_end) AS resolved_until
    FROM alerts FINAL WHERE state = 'resolved' GROUP BY province, matter_code, step
)
SELECT a.alert_id AS alert_id, a.state AS state,
       a.state = 'firing' AND r.resolved_until < a.window_start AS active,
       a.province AS province, a.matter_code AS matter_code, a.step AS step,
       a.window_start AS window_start, a.window_end AS window_end, a.ratings AS ratings,
       round(a.negatives, 2) AS negatives, round(a.rate, 4) AS rate, round(a.baseline, 4) AS baseline,
       round(a.score, 2) AS score, arrayMap(x -> (x.reason, round(x.negatives, 2)), a.top_reasons) AS top_reasons,
       a.examples AS example_comments, arrayMap(x -> x.org, a.organisations) AS responsible_orgs,
       a.query AS analyst_query
FROM alerts AS a FINAL
LEFT JOIN resolved AS r ON r.province = a.province AND r.matter_code = a.matter_code AND r.step = a.step
WHERE (NOT {active_only:Bool} OR active)
  AND ({step:String} = '' OR a.step = {step:String})
  AND ({province:String} = '' OR a.province = {province:String})
  AND ({matter:String} = '' OR a.matter_code IN ('', {matter:String}))
  AND a.window_end >= {since:DateTime} AND a.window_start < {until:DateTime}
ORDER BY active DESC, a.score DESC
LIMIT {limit:UInt32}
"""

# Province × step complaint rates (all matters unless filtered), for the heat map.
HEATMAP = (
    """
SELECT t.province AS province, t.step AS step, sum(t.ratings) AS n, sum(t.negatives) AS w,
       n AS ratings, round(w, 2) AS negatives, round(w / n, 4) AS rate
FROM {stats:Identifier} AS t
WHERE """
    + _FILTERS
    + """
GROUP BY t.province, t.step
HAVING n > 0
ORDER BY province, step
"""
)

ORG_NAMES = """
SELECT org_code, any(org_name) AS org_name FROM case_steps WHERE org_code IN {codes:Array(String)} GROUP BY org_code
"""

# The aggregates against the same numbers recomputed from the raw tables, per hour and
# key: rows returned are disagreements (none after any number of replays).
AGGREGATE_CHECK = """
WITH agg AS (
    SELECT t.period AS period, t.province AS province, t.matter_code AS matter_code, t.mode AS mode, t.step AS step,
           t.role AS role, t.org_code AS org_code,
           sum(t.ratings) AS a_ratings, sum(t.negatives) AS a_negatives,
           sum(t.negative_ratings) AS a_negative_ratings, sum(t.blamed_ratings) AS a_blamed,
           sum(t.steps_completed) AS a_steps, sum(t.breaches) AS a_breaches, sum(t.sent_back_steps) AS a_sent_back,
           sum(t.send_backs) AS a_send_backs
    FROM step_stats_hourly AS t
    GROUP BY period, province, matter_code, mode, step, role, org_code
),
raw AS (
    SELECT period, province, matter_code, mode, step, role, org_code,
           sum(n) AS r_ratings, sum(w) AS r_negatives, sum(neg) AS r_negative_ratings,
           sum(blamed) AS r_blamed, sum(steps) AS r_steps, sum(breached) AS r_breaches,
           sum(sent_back) AS r_sent_back, sum(returns) AS r_send_backs
    FROM (
        SELECT toStartOfHour(o.rated_at) AS period, o.province AS province, o.matter_code AS matter_code,
               o.mode AS mode, o.step AS step, o.role AS role, o.org_code AS org_code,
               1 AS n, toFloat64(o.weight) AS w, toUInt64(o.level <= 2) AS neg, toUInt64(o.weight > 0) AS blamed,
               0 AS steps, 0 AS breached, 0 AS sent_back, 0 AS returns
        FROM step_observations AS o
        UNION ALL
        SELECT toStartOfHour(s.completed_at), s.org_province, s.matter_code, s.mode, s.step, s.org_role, s.org_code,
               0, 0, 0, 0, 1, toUInt64(s.breached), toUInt64(s.send_backs > 0), toUInt64(s.send_backs)
        FROM case_steps AS s
    )
    GROUP BY period, province, matter_code, mode, step, role, org_code
)
SELECT period, province, matter_code, mode, step, role, org_code,
       a_ratings, r_ratings, a_negatives, r_negatives, a_steps, r_steps, a_breaches, r_breaches
FROM agg
FULL OUTER JOIN raw USING (period, province, matter_code, mode, step, role, org_code)
WHERE (a_ratings, a_negative_ratings, a_blamed, a_steps, a_breaches, a_sent_back, a_send_backs)
   != (r_ratings, r_negative_ratings, r_blamed, r_steps, r_breaches, r_sent_back, r_send_backs)
   OR abs(a_negatives - r_negatives) > 1e-6  -- float sums differ only in the order they were added
LIMIT 100
"""


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    title: str  # what analysts read
    sql: str
    example: str  # an `hcp report` or `hcp sql --named` command line


NAMED_QUERIES: dict[str, NamedQuery] = {
    query.name: query
    for query in (
        NamedQuery("priorities", "流程再造优先级 — redesign priorities", PRIORITIES, "hcp report --since 2026-11-20"),
        NamedQuery(
            "compare",
            "对标 — cross-province comparison",
            COMPARISON,
            "hcp report compare --matter HCP-YB-JYBA --step DATA_SHARE",
        ),
        NamedQuery("reducible", "可精简的环节 — reducible steps", REDUCIBLE, "hcp report reducible"),
        NamedQuery("handoffs", "跨省交接热点 — hand-off hotspots", HANDOFFS, "hcp report handoffs --province 340000"),
        NamedQuery(
            "trend",
            "趋势 — a step's complaint rate over time",
            TREND,
            "hcp report trend --step DATA_SHARE --province 340000 --by day",
        ),
        NamedQuery("alerts", "告警 — alerts of the spike detector", ALERTS, "hcp report alerts"),
        NamedQuery("heatmap", "省份×环节 差评率 — province × step", HEATMAP, "hcp report heatmap"),
        NamedQuery("aggregate_check", "聚合校验 — aggregates vs raw tables", AGGREGATE_CHECK, "hcp report check"),
    )
}


def client_runner(client: Client, settings: Mapping[str, Any] | None = None) -> Runner:
    """Run named queries on a client (with `settings` on every query, e.g. readonly=1 on a server)."""

    def run(sql: str, parameters: Mapping[str, object]) -> Table:
        result = client.query(sql, parameters=dict(parameters), settings=dict(settings or {}))
        return Table(list(result.column_names), [tuple(row) for row in result.result_rows])

    return run


def read_only_client(url: str, owner: str) -> tuple[Client, Runner]:
    """A client for readers, and its runner: a readonly=1 chDB handle, or readonly=1 on each server query.

    In embedded mode this process must own the directory (the worker, or a command that
    found no worker running); taking the lock here is a no-op when it already does.
    """
    import clickhouse_connect

    from sinks.clickhouse import connect

    if url.startswith("chdb://"):
        # Takes the directory's lock (or raises EmbeddedDirectoryBusy); the handle itself is not needed.
        connect(url, owner=owner).close()
        client = clickhouse_connect.get_client(dsn=url, settings=READ_ONLY_SETTINGS)
        return client, client_runner(client)
    client = connect(url, owner=owner)
    return client, client_runner(client, READ_ONLY_SETTINGS)


class NotOneStatement(ValueError):
    pass


def only_statement(sql: str) -> str:
    """The one statement in `sql`, without trailing semicolons; refuses several statements.

    Readers are readonly=1 anyway; this keeps their errors clear and their requests single.
    """
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise NotOneStatement("no SQL given")
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1  # skip the escaped character
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif text.startswith("--", index) or char == "#":
            end = text.find("\n", index)
            if end < 0:  # a comment to the end would swallow the FORMAT clause the driver appends
                return text + "\n"
            index = end
            continue
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            index = len(text) if end < 0 else end + 2
            continue
        elif char == ";":
            raise NotOneStatement("one statement at a time: remove the ';' between statements")
        index += 1
    return text
