-- telemetry_loss: events a worker dropped because its spool was full, one row per loss marker.
-- Rates computed while a region's workers were dropping telemetry undercount that region.
CREATE VIEW telemetry_loss AS
SELECT
    MAX(worker_id) AS worker_id,
    region,
    MAX(provider) AS provider,
    MAX(finished_at) AS reported_at,
    MAX(CAST(labels['n_dropped'] AS BIGINT)) AS n_dropped,
    date,
    CAST(hour AS INT) AS hour
FROM job_outcomes_raw
WHERE job_kind = 'telemetry_loss'
GROUP BY job_outcomes_raw.date, job_outcomes_raw.hour, job_outcomes_raw.region, job_outcomes_raw.event_id;
