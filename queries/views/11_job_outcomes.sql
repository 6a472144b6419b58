-- job_outcomes: one row per job outcome event, whatever a worker's spool re-delivered.
-- See 10_connect_attempts.sql for why it groups by the partition columns and uses MAX().
-- Loss markers (job_kind 'telemetry_loss', written by a worker whose spool overflowed) are not
-- jobs: they are left out here and shown by the telemetry_loss view.
--
-- `status` is a grouping key too, although copies of an event always agree on it: so a filter
-- on status (`status <> 'passed'`, as the classification reads it) is applied to the raw rows
-- before deduplicating, and only the jobs that did not pass are grouped (about a tenth).
CREATE VIEW job_outcomes AS
SELECT
    event_id,
    MAX(schema_version) AS schema_version,
    MAX(worker_id) AS worker_id,
    region,
    MAX(provider) AS provider,
    MAX(zone) AS zone,
    MAX(job_id) AS job_id,
    MAX(run_attempt) AS run_attempt,
    MAX(project) AS project,
    MAX(job_kind) AS job_kind,
    MAX(queued_at) AS queued_at,
    MAX(started_at) AS started_at,
    MAX(finished_at) AS finished_at,
    status,
    MAX(exit_code) AS exit_code,
    MAX(signal) AS signal,
    MAX(failed_step) AS failed_step,
    MAX(runner_reason) AS runner_reason,
    MAX(log_tail) AS log_tail,
    first_value(labels) AS labels,
    date,
    CAST(hour AS INT) AS hour
FROM job_outcomes_raw
WHERE job_kind <> 'telemetry_loss'
GROUP BY job_outcomes_raw.date, job_outcomes_raw.hour, job_outcomes_raw.region, job_outcomes_raw.event_id,
         job_outcomes_raw.status;
