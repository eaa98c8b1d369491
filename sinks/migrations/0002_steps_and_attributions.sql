-- Tracing output. case_steps: one row per completed step of a case (from the
-- `complete` event that closed it), the raw material for durations, breach and
-- send-back rates. attributions: one row per negative rating and candidate step,
-- with its weight; the primary step, reason and responsible organisation repeat
-- on every candidate row of the rating (is_primary marks the chosen one).

CREATE TABLE IF NOT EXISTS case_steps
(
    case_id               String,
    matter_code           LowCardinality(String),
    mode                  LowCardinality(String),
    step                  LowCardinality(String),
    org_code              LowCardinality(String),
    org_name              LowCardinality(String),
    org_province          LowCardinality(String),
    org_role              LowCardinality(String),
    started_at            DateTime64(3, 'UTC'),
    completed_at          DateTime64(3, 'UTC'),
    working_days          Float64,
    limit_days            Nullable(UInt16),
    breached              UInt8,
    send_backs            UInt16,
    failed_checks         UInt16,
    handoff_from_province LowCardinality(String) COMMENT 'empty unless the step is a hand-off',
    handoff_to_province   LowCardinality(String),
    handoff_transit_days  Nullable(Float64),
    src_topic             LowCardinality(String),
    src_partition         UInt16,
    src_offset            UInt64,
    ingested_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(completed_at)
ORDER BY (org_province, matter_code, step, completed_at, case_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS attributions
(
    rating_id             String,
    case_id               Nullable(String),
    matter_code           LowCardinality(String),
    mode                  LowCardinality(String) COMMENT 'from the case timeline; empty when unknown',
    province              LowCardinality(String) COMMENT 'province of the portal that collected the rating',
    level                 UInt8,
    rated_at              DateTime64(3, 'UTC'),
    step                  LowCardinality(String) COMMENT 'primary step, or JOURNEY / POLICY / UNKNOWN',
    reason                LowCardinality(Nullable(String)),
    responsible_role      LowCardinality(Nullable(String)),
    responsible_province  LowCardinality(Nullable(String)),
    responsible_org       Nullable(String),
    confidence            Float32,
    candidate_step        LowCardinality(String),
    candidate_reason      LowCardinality(Nullable(String)),
    weight                Float32,
    is_primary            UInt8,
    evidence              Array(String),
    src_topic             LowCardinality(String),
    src_partition         UInt16,
    src_offset            UInt64,
    ingested_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(rated_at)
ORDER BY (step, matter_code, rated_at, rating_id, candidate_step)
SETTINGS non_replicated_deduplication_window = 10000;

-- step_observations: one row per (rating, step its case went through). The
-- complaint rate of a step is sum(weight) / count() over these rows: each rating
-- of a case that went through the step counts once in the denominator and adds
-- the share of its complaint attributed to the step (0 to 1) to the numerator.
CREATE TABLE IF NOT EXISTS step_observations
(
    rating_id     String,
    rated_at      DateTime64(3, 'UTC'),
    province      LowCardinality(String) COMMENT 'province of the organisation that performed the step',
    matter_code   LowCardinality(String),
    mode          LowCardinality(String),
    step          LowCardinality(String),
    role          LowCardinality(String),
    org_code      LowCardinality(String),
    level         UInt8,
    weight        Float32,
    reason        LowCardinality(Nullable(String)),
    src_topic     LowCardinality(String),
    src_partition UInt16,
    src_offset    UInt64,
    ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(rated_at)
ORDER BY (province, step, matter_code, rated_at, rating_id)
SETTINGS non_replicated_deduplication_window = 10000;
