-- The alerts table in the shape the spike detector emits (haochaping/alerts/model.py,
-- Alert.to_wire): states firing | resolved, each with its own deterministic alert_id, so
-- an incident's resolution is a second row of the same key. Nothing wrote to the 0003
-- table, which is replaced.

DROP TABLE IF EXISTS alerts;

CREATE TABLE IF NOT EXISTS alerts
(
    alert_id       String COMMENT 'hash of key, first window and state: a replay gives the same id',
    state          LowCardinality(String) COMMENT 'firing | resolved',
    province       LowCardinality(String) COMMENT 'province of the organisation performing the step',
    matter_code    LowCardinality(String) COMMENT 'empty: pooled over the matters too thin to test alone',
    step           LowCardinality(String),
    window_start   DateTime64(3, 'UTC'),
    window_end     DateTime64(3, 'UTC'),
    ratings        UInt64 COMMENT 'ratings of cases through the step in the window',
    negatives      Float64 COMMENT 'weighted complaints attributed to the step in the window',
    rate           Float64 COMMENT 'negatives / ratings',
    baseline       Float64 COMMENT 'expected rate',
    score          Float64 COMMENT '-log10 p-value of the rise (firing) or of what remains (resolved)',
    top_reasons    Array(Tuple(reason String, label String, negatives Float64)),
    examples       Array(String) COMMENT 'masked comments',
    organisations  Array(Tuple(org String, role String, ratings UInt64, negatives Float64)),
    query          String COMMENT 'SQL an analyst can run to see the ratings behind the alert',
    updated_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY alert_id;
