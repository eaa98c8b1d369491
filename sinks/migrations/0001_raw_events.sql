-- Raw events as accepted by the worker, one row per Kafka message.
-- src_topic/src_partition/src_offset identify the message: the sink drops any
-- row at or below the highest offset already stored for its partition, and
-- insert_deduplication_token makes a retried insert a no-op.

CREATE TABLE IF NOT EXISTS ratings
(
    rating_id        String,
    case_id          Nullable(String),
    matter_code      LowCardinality(String),
    province         LowCardinality(String),
    channel          LowCardinality(String),
    level            UInt8,
    negative         UInt8,
    tags             Array(LowCardinality(String)),
    comment          Nullable(String) COMMENT 'personal data masked',
    step             LowCardinality(Nullable(String)),
    rated_at         DateTime64(3, 'UTC'),
    rater_pseudonym  String COMMENT 'keyed hash of the rater id; empty when anonymous',
    rater_real_name  Nullable(UInt8),
    src_topic        LowCardinality(String),
    src_partition    UInt16,
    src_offset       UInt64,
    ingested_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(rated_at)
ORDER BY (province, matter_code, rated_at, rating_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS case_events
(
    event_id      String,
    case_id       String,
    matter_code   LowCardinality(String),
    mode          LowCardinality(String),
    step          LowCardinality(String),
    action        LowCardinality(String),
    org_code      LowCardinality(String),
    org_name      LowCardinality(String),
    org_province  LowCardinality(String),
    org_role      LowCardinality(String),
    at            DateTime64(3, 'UTC'),
    note          Nullable(String),
    src_topic     LowCardinality(String),
    src_partition UInt16,
    src_offset    UInt64,
    ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (case_id, at, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Reasons only: the original bytes stay in the dead-letter topic.
CREATE TABLE IF NOT EXISTS dead_letters
(
    reason            String,
    size_bytes        UInt32,
    src_topic         LowCardinality(String),
    src_partition     UInt16,
    src_offset        UInt64,
    dead_lettered_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (src_topic, src_partition, src_offset)
SETTINGS non_replicated_deduplication_window = 10000;
