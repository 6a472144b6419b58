-- job_connect_evidence: what each non-passing job's own connect attempts did during its
-- window [started_at, finished_at], one row per job outcome event that has any.
--
-- Who owns a target decides what its failure says (`target_owner`, absent = platform):
-- - platform targets (check-in, clone, cache, registry, log upload) are infra evidence;
-- - the job's own targets (loopback and local addresses, e.g. a test's database) never are;
-- - a third party (e.g. a public package registry) is infra evidence when another region
--   reached it within an hour of the failure (it was up, the way there was not); otherwise its
--   failures are reported apart (`*_third_party_*`) and the classification counts them only
--   when the job's region had an open anomaly.
-- A target counts as "unrecovered" when its last failure is not followed by a success to the
-- same target: a retried connect that then worked did not fail the job.
--
-- The join's build side is the jobs that did not pass (about a tenth); its dynamic filter on
-- job_id reaches the Parquet scan of the attempts, so only their attempts are read. The
-- third-party check reads attempts of the failed third-party targets only, the same way.
CREATE VIEW job_connect_evidence AS
WITH failed_jobs AS (
    SELECT event_id AS job_event_id, job_id, region AS job_region, started_at AS job_started_at,
           finished_at AS job_finished_at
    FROM job_outcomes
    WHERE status <> 'passed'
),
job_attempts AS (
    SELECT
        f.job_event_id,
        f.job_region,
        c.target_service,
        c.target_owner,
        c.outcome,
        c.started_at,
        c.outcome IN ('timeout', 'refused', 'reset', 'unreachable', 'dns_error', 'tls_error', 'abandoned') AS is_failed
    FROM failed_jobs f
    JOIN connect_attempts c
      ON c.job_id = f.job_id
     AND c.started_at >= f.job_started_at
     AND c.started_at <= f.job_finished_at
    WHERE c.target_owner <> 'job'
),
third_party_failures AS (
    SELECT job_event_id, job_region, target_service, started_at
    FROM job_attempts
    WHERE target_owner = 'third_party' AND is_failed
),
reached_elsewhere AS (
    SELECT DISTINCT t.job_event_id, t.target_service
    FROM third_party_failures t
    JOIN connect_attempts o
      ON o.target_service = t.target_service
     AND o.region <> t.job_region
     AND o.outcome = 'ok'
     AND o.started_at >= t.started_at - INTERVAL '1' HOUR
     AND o.started_at <= t.started_at + INTERVAL '1' HOUR
),
attempts AS (
    SELECT
        a.*,
        a.target_owner = 'third_party' AND r.job_event_id IS NULL AS third_party_only
    FROM job_attempts a
    LEFT JOIN reached_elsewhere r ON r.job_event_id = a.job_event_id AND r.target_service = a.target_service
),
per_target AS (
    SELECT
        job_event_id,
        target_service,
        bool_and(third_party_only) AS third_party_only,
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
    SUM(CASE WHEN NOT third_party_only THEN n_connects END) AS n_connects,
    SUM(CASE WHEN NOT third_party_only THEN n_failed END) AS n_failed_connects,
    SUM(CASE WHEN NOT third_party_only THEN n_abandoned END) AS n_abandoned_connects,
    bool_or(unrecovered AND NOT third_party_only) AS has_unrecovered_failure,
    MIN(CASE WHEN unrecovered AND NOT third_party_only THEN failure_rank END) AS unrecovered_failure_rank,
    MIN(CASE WHEN NOT third_party_only THEN failure_rank END) AS failure_rank,
    string_agg(CASE WHEN n_failed > 0 AND NOT third_party_only THEN target_service END, ',' ORDER BY target_service)
        AS failed_targets,
    string_agg(CASE WHEN unrecovered AND NOT third_party_only THEN target_service END, ',' ORDER BY target_service)
        AS unrecovered_targets,
    bool_or(unrecovered AND third_party_only) AS has_unrecovered_third_party_failure,
    MIN(CASE WHEN unrecovered AND third_party_only THEN failure_rank END) AS third_party_failure_rank,
    string_agg(CASE WHEN unrecovered AND third_party_only THEN target_service END, ',' ORDER BY target_service)
        AS unrecovered_third_party_targets
FROM judged
GROUP BY job_event_id;
