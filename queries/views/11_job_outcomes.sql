-- job_outcomes: one row per job outcome event, whatever a worker's spool re-delivered.
-- See 10_connect_attempts.sql for the deduplication and the hour column.
-- Loss markers (job_kind 'telemetry_loss', written by a worker whose spool overflowed) are not
-- jobs: they are left out here and shown by the telemetry_loss view.
CREATE VIEW job_outcomes AS
SELECT
    event_id, schema_version, worker_id, region, provider, zone, job_id, run_attempt, project,
    job_kind, queued_at, started_at, finished_at, status, exit_code, signal, failed_step,
    runner_reason, log_tail, labels,
    date,
    CAST(hour AS INT) AS hour
FROM job_outcomes_unique
WHERE job_kind <> 'telemetry_loss';
