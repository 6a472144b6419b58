-- connect_attempts: one row per connect attempt, whatever a worker's spool re-delivered.
--
-- A re-delivered event is a byte-for-byte copy, so it carries the same event time and region
-- and lands in the same date/hour partition. Deduplicating per (date, hour, region, event_id)
-- is therefore exact, and keeping those columns as grouping keys lets filters on them reach
-- the Parquet scan (partition pruning) through the deduplication.
CREATE VIEW connect_attempts AS
SELECT DISTINCT ON (date, hour, region, event_id) *
FROM connect_attempts_raw;
