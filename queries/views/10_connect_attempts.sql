-- connect_attempts: one row per connect attempt, whatever a worker's spool re-delivered.
--
-- connect_attempts_unique is the lake table with each event_id once: the first copy the scan
-- meets goes through, later copies are dropped (a re-delivered event is a byte-for-byte copy).
-- Filters on any column still reach the Parquet scan below that deduplication.
--
-- The lake spells hours with two digits (hour=05), so the lake tables read `hour` as text and
-- this view casts it: DataFusion 55 turns `hour = 5` on an integer partition column into the
-- directory prefix `hour=5/` and would find no file. A filter on the cast hour still prunes
-- directories, since it is evaluated on each directory's partition values.
CREATE VIEW connect_attempts AS
SELECT
    event_id, schema_version, worker_id, region, provider, zone, started_at, duration_ms,
    target_service, target_host, target_port, target_addr, target_region, job_id, phase,
    outcome, errno, attempt, error,
    -- Absent before captured connects existed: every such attempt was the platform's.
    COALESCE(target_owner, 'platform') AS target_owner,
    date,
    CAST(hour AS INT) AS hour
FROM connect_attempts_unique;
