-- Every row records the deduplication token of the insert that wrote it. A crash can
-- land an insert in its table but not in the materialized views fed by it; the
-- worker that reads those messages again re-sends that insert under the same token
-- (sinks/writer.py): ClickHouse skips the table's copy and delivers the block to
-- each view that never got it, once. Rows written before this migration hold ''.

ALTER TABLE ratings ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '' COMMENT 'deduplication token of the insert';
ALTER TABLE case_events ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '' COMMENT 'deduplication token of the insert';
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '' COMMENT 'deduplication token of the insert';
ALTER TABLE case_steps ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '' COMMENT 'deduplication token of the insert';
ALTER TABLE attributions ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '' COMMENT 'deduplication token of the insert';
ALTER TABLE step_observations ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '' COMMENT 'deduplication token of the insert';

-- Re-sending is safe only while the tokens are still in the deduplication windows of the
-- table and of the views' tables (which take two inserts per batch): make them ten times
-- longer than before, so that ten minutes of inserts fit at any realistic batch rate.
ALTER TABLE case_steps MODIFY SETTING non_replicated_deduplication_window = 100000;
ALTER TABLE step_observations MODIFY SETTING non_replicated_deduplication_window = 100000;
ALTER TABLE step_stats_hourly MODIFY SETTING non_replicated_deduplication_window = 100000;
ALTER TABLE step_stats_daily MODIFY SETTING non_replicated_deduplication_window = 100000;
