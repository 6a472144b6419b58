-- telemetry_loss: events a worker dropped because its spool was full, one row per loss marker.
-- Rates computed while a region's workers were dropping telemetry undercount that region.
CREATE VIEW telemetry_loss AS
SELECT
    worker_id,
    region,
    provider,
    finished_at AS reported_at,
    CAST(labels['n_dropped'] AS BIGINT) AS n_dropped,
    date,
    CAST(hour AS INT) AS hour
FROM job_outcomes_unique
WHERE job_kind = 'telemetry_loss';
