-- Analysts' tables: alerts, and per-step aggregates kept by materialized views.
--
-- Complaint rate of a step (the one definition every query uses):
--   rate = sum(negatives) / sum(ratings) over step_stats_*, where for each rating of a
--   case that went through the step, `ratings` counts 1 and `negatives` adds the share
--   (0-1) of that rating's complaint attributed to the step (step_observations.weight).
--
-- The aggregates are fed only by inserts into step_observations and case_steps. The
-- writer drops replayed Kafka messages before inserting and tags each insert with a
-- deduplication token, so a replay inserts nothing and no aggregate changes. The
-- targets keep a deduplication window of their own so that a retried insert whose
-- source block was stored but whose view block was not can be completed with
-- deduplicate_blocks_in_dependent_materialized_views=1.

-- Written by the spike detector; a later state of the same alert replaces the earlier
-- one (read with FINAL, or argMax by updated_at).
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id          String,
    state             LowCardinality(String) COMMENT 'open | resolved',
    province          LowCardinality(String) COMMENT 'province of the organisation performing the step',
    matter_code       LowCardinality(String) COMMENT 'empty when the alert covers every matter',
    step              LowCardinality(String),
    window_start      DateTime64(3, 'UTC'),
    window_end        DateTime64(3, 'UTC'),
    ratings           UInt64 COMMENT 'ratings of cases through the step in the window',
    negatives         Float64 COMMENT 'weighted negatives attributed to the step in the window',
    rate              Float64 COMMENT 'negatives / ratings',
    baseline          Float64 COMMENT 'expected rate',
    score             Float64,
    top_reasons       Array(Tuple(reason String, weight Float64)),
    example_comments  Array(String) COMMENT 'personal data masked',
    responsible_orgs  Array(String),
    analyst_query     String,
    updated_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY alert_id;

-- One row per (period, province, matter, mode, step, role, org) after merges; always
-- read with sum()/sumMap()/quantilesMerge() and GROUP BY, since unmerged parts may
-- hold several rows per key. `period` is the hour (UTC) of rated_at for the rating
-- columns and of completed_at for the step columns.
CREATE TABLE IF NOT EXISTS step_stats_hourly
(
    period            DateTime('UTC'),
    province          LowCardinality(String) COMMENT 'province of the organisation that performed the step',
    matter_code       LowCardinality(String),
    mode              LowCardinality(String),
    step              LowCardinality(String),
    role              LowCardinality(String),
    org_code          LowCardinality(String),
    ratings           SimpleAggregateFunction(sum, UInt64) COMMENT 'ratings of cases that went through the step',
    negatives         SimpleAggregateFunction(sum, Float64) COMMENT 'complaint weight attributed to the step',
    negative_ratings  SimpleAggregateFunction(sum, UInt64) COMMENT 'level <= 2 ratings of those cases, blamed anywhere',
    blamed_ratings    SimpleAggregateFunction(sum, UInt64) COMMENT 'ratings with weight > 0 on the step',
    weight_by_reason  SimpleAggregateFunction(sumMap, Map(String, Float64)) COMMENT 'negatives by reason; empty key = none given',
    blamed_by_reason  SimpleAggregateFunction(sumMap, Map(String, UInt64)),
    ratings_by_level  SimpleAggregateFunction(sumMap, Map(UInt8, UInt64)),
    weight_by_level   SimpleAggregateFunction(sumMap, Map(UInt8, Float64)),
    steps_completed   SimpleAggregateFunction(sum, UInt64) COMMENT 'completed steps (case_steps rows)',
    working_days_sum  SimpleAggregateFunction(sum, Float64),
    working_days_q    AggregateFunction(quantiles(0.5, 0.9), Float64) COMMENT 'median and p90 duration, working days',
    breaches          SimpleAggregateFunction(sum, UInt64) COMMENT 'steps over their time limit',
    sent_back_steps   SimpleAggregateFunction(sum, UInt64) COMMENT 'steps with at least one send-back (退回补正)',
    send_backs        SimpleAggregateFunction(sum, UInt64) COMMENT 'send-backs in all',
    failed_checks     SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(period)
ORDER BY (step, matter_code, province, mode, role, org_code, period)
SETTINGS non_replicated_deduplication_window = 10000;

-- The same by Beijing day: `period` is midnight Asia/Shanghai of the day.
CREATE TABLE IF NOT EXISTS step_stats_daily AS step_stats_hourly
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(period, 'Asia/Shanghai')
ORDER BY (step, matter_code, province, mode, role, org_code, period)
SETTINGS non_replicated_deduplication_window = 10000;

-- The views qualify source columns (o.weight) so that their output aliases, which
-- reuse the target's names, never shadow them.
CREATE MATERIALIZED VIEW IF NOT EXISTS step_stats_hourly_observations_mv TO step_stats_hourly AS
SELECT
    toStartOfHour(o.rated_at) AS period,
    o.province AS province, o.matter_code AS matter_code, o.mode AS mode,
    o.step AS step, o.role AS role, o.org_code AS org_code,
    count() AS ratings,
    sum(toFloat64(o.weight)) AS negatives,
    countIf(o.level <= 2) AS negative_ratings,
    countIf(o.weight > 0) AS blamed_ratings,
    sumMapIf(map(ifNull(o.reason, ''), toFloat64(o.weight)), o.weight > 0) AS weight_by_reason,
    sumMapIf(map(ifNull(o.reason, ''), toUInt64(1)), o.weight > 0) AS blamed_by_reason,
    sumMap(map(o.level, toUInt64(1))) AS ratings_by_level,
    sumMapIf(map(o.level, toFloat64(o.weight)), o.weight > 0) AS weight_by_level
FROM step_observations AS o
GROUP BY period, province, matter_code, mode, step, role, org_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS step_stats_daily_observations_mv TO step_stats_daily AS
SELECT
    toDateTime(toStartOfDay(o.rated_at, 'Asia/Shanghai'), 'Asia/Shanghai') AS period,
    o.province AS province, o.matter_code AS matter_code, o.mode AS mode,
    o.step AS step, o.role AS role, o.org_code AS org_code,
    count() AS ratings,
    sum(toFloat64(o.weight)) AS negatives,
    countIf(o.level <= 2) AS negative_ratings,
    countIf(o.weight > 0) AS blamed_ratings,
    sumMapIf(map(ifNull(o.reason, ''), toFloat64(o.weight)), o.weight > 0) AS weight_by_reason,
    sumMapIf(map(ifNull(o.reason, ''), toUInt64(1)), o.weight > 0) AS blamed_by_reason,
    sumMap(map(o.level, toUInt64(1))) AS ratings_by_level,
    sumMapIf(map(o.level, toFloat64(o.weight)), o.weight > 0) AS weight_by_level
FROM step_observations AS o
GROUP BY period, province, matter_code, mode, step, role, org_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS step_stats_hourly_case_steps_mv TO step_stats_hourly AS
SELECT
    toStartOfHour(s.completed_at) AS period,
    s.org_province AS province, s.matter_code AS matter_code, s.mode AS mode,
    s.step AS step, s.org_role AS role, s.org_code AS org_code,
    count() AS steps_completed,
    sum(s.working_days) AS working_days_sum,
    quantilesState(0.5, 0.9)(s.working_days) AS working_days_q,
    sum(toUInt64(s.breached)) AS breaches,
    countIf(s.send_backs > 0) AS sent_back_steps,
    sum(toUInt64(s.send_backs)) AS send_backs,
    sum(toUInt64(s.failed_checks)) AS failed_checks
FROM case_steps AS s
GROUP BY period, province, matter_code, mode, step, role, org_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS step_stats_daily_case_steps_mv TO step_stats_daily AS
SELECT
    toDateTime(toStartOfDay(s.completed_at, 'Asia/Shanghai'), 'Asia/Shanghai') AS period,
    s.org_province AS province, s.matter_code AS matter_code, s.mode AS mode,
    s.step AS step, s.org_role AS role, s.org_code AS org_code,
    count() AS steps_completed,
    sum(s.working_days) AS working_days_sum,
    quantilesState(0.5, 0.9)(s.working_days) AS working_days_q,
    sum(toUInt64(s.breached)) AS breaches,
    countIf(s.send_backs > 0) AS sent_back_steps,
    sum(toUInt64(s.send_backs)) AS send_backs,
    sum(toUInt64(s.failed_checks)) AS failed_checks
FROM case_steps AS s
GROUP BY period, province, matter_code, mode, step, role, org_code;
