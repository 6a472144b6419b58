-- job_connect_evidence: what each non-passing job's own connect attempts did during its
-- window [started_at, finished_at], one row per job outcome event that has any.
--
-- Every connect attempt recorded with a job_id is made by the runner on the platform's behalf
-- (check-in, clone, cache, registry, log upload), so all of them are platform targets.
-- A target counts as "unrecovered" when its last failure is not followed by a success to the
-- same target: a retried connect that then worked did not fail the job.
--
-- The join's build side is the jobs that did not pass (about a tenth); its dynamic filter on
-- job_id reaches the Parquet scan of the attempts, so only their attempts are read.
CREATE VIEW job_connect_evidence AS
WITH failed_jobs AS (
    SELECT event_id AS job_event_id, job_id, started_at AS job_started_at, finished_at AS job_finished_at
    FROM job_outcomes
    WHERE status <> 'passed'
),
attempts AS (
    SELECT
        f.job_event_id,
        c.target_service,
        c.outcome,
        c.started_at,
        c.outcome IN ('timeout', 'refused', 'reset', 'unreachable', 'dns_error', 'tls_error', 'abandoned') AS is_failed
    FROM failed_jobs f
    JOIN connect_attempts c
      ON c.job_id = f.job_id
     AND c.started_at >= f.job_started_at
     AND c.started_at <= f.job_finished_at
),
per_target AS (
    SELECT
        job_event_id,
        target_service,
        COUNT(*) AS n_connects,
        COUNT(CASE WHEN is_failed THEN 1 END) AS n_failed,
        COUNT(CASE WHEN outcome = 'abandoned' THEN 1 END) AS n_abandoned,
        MAX(CASE WHEN is_failed THEN started_at END) AS last_failed_at,
        MAX(CASE WHEN outcome = 'ok' THEN started_at END) AS last_ok_at,
        -- The most specific failure seen on this target: a DNS or TLS error says more than a
        -- timeout, and a timeout more than an attempt abandoned in flight.
        MIN(CASE outcome
            WHEN 'dns_error' THEN 1 WHEN 'tls_error' THEN 2 WHEN 'refused' THEN 3
            WHEN 'reset' THEN 4 WHEN 'unreachable' THEN 5 WHEN 'timeout' THEN 6
            WHEN 'abandoned' THEN 7 END) AS failure_rank
    FROM attempts
    GROUP BY job_event_id, target_service
),
judged AS (
    SELECT
        *,
        last_failed_at IS NOT NULL AND (last_ok_at IS NULL OR last_ok_at < last_failed_at) AS unrecovered
    FROM per_target
)
SELECT
    job_event_id,
    SUM(n_connects) AS n_connects,
    SUM(n_failed) AS n_failed_connects,
    SUM(n_abandoned) AS n_abandoned_connects,
    bool_or(unrecovered) AS has_unrecovered_failure,
    MIN(CASE WHEN unrecovered THEN failure_rank END) AS unrecovered_failure_rank,
    MIN(failure_rank) AS failure_rank,
    string_agg(CASE WHEN n_failed > 0 THEN target_service END, ',' ORDER BY target_service) AS failed_targets,
    string_agg(CASE WHEN unrecovered THEN target_service END, ',' ORDER BY target_service) AS unrecovered_targets
FROM judged
GROUP BY job_event_id;
