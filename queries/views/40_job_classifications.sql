-- job_classifications: one row per finished job that did not pass, attributed to infra, user
-- or unknown from evidence, with the rule (or signature) that decided it.
--
-- Decision order, first match wins (rule_id in brackets):
--  1. [runner_reason]     the runner itself knows: worker lost, OOM-killed by the host, disk
--                         full, log upload failed, requeued                       -> infra
--                         (a failed log upload whose connects failed -> infra.network.*)
--  *. [config_error]      a platform-owned step failed on the job's own configuration (a
--                         YAML, TOML, Kconfig, bitbake .conf or Dockerfile that does not
--                         parse) and no connect failed: the log outweighs the step's owner
--                         -> user.config
--  2. [platform_step]     the failed step is platform-owned (setup, checkout, fetch, upload…)
--                         -> infra.setup, refined to infra.network.* by failed connects and
--                         to infra.dependency when a platform service answered 5xx
--  *. [conflicting_evidence] unrecovered failed platform connects AND a user signature with a
--                         non-zero exit in a user-owned step -> unknown.conflicting
--  3. [failed_connects]   unrecovered failed/abandoned connects during the job to platform
--                         targets, or to third parties reached from other regions or failing
--                         during a regional anomaly (never the job's own) -> infra.network.*
--  4. [signature:<id>]    a signature of queries/signatures.toml matches reason + log tail
--  5. [user_step]         build, compile, lint, test, script or config step failed with a
--                         non-zero exit and healthy connects                      -> user.*
--     [exit_zero]         the script exited 0 yet the job failed: the platform failed it
--  6. a regional anomaly never decides: it lowers the confidence of user attributions and is
--     shown in region_anomaly
--  7. [no_evidence]       -> unknown.no_evidence
--
-- The rules ask whether a job's connects failed (n_failed_connects = 0 or > 0, the ranks, the
-- flags), never how many did: an attempt delivered twice changes n_connects and the counts
-- shown, not the attribution or the cause. The region-health detector relies on it and reads
-- the attempts for its job counts without dropping copies (analyze/src/health/reading.rs,
-- test repeated_attempts_leave_the_jobs_attributions_as_the_view_has_them). A rule on how
-- many connects failed needs that changed.
CREATE VIEW job_classifications AS
WITH jobs AS (
    SELECT *, match_signature(concat_ws(chr(10), runner_reason, log_tail)) AS matched_signature
    FROM job_outcomes
    WHERE status <> 'passed'
),
facts AS (
    SELECT
        j.event_id, j.job_id, j.run_attempt, j.project, j.job_kind, j.worker_id, j.region, j.provider,
        j.zone, j.date, j.hour, j.started_at, j.finished_at, j.status, j.exit_code, j.signal,
        j.failed_step, j.runner_reason, j.matched_signature,
        s.attribution AS signature_attribution,
        s.cause AS signature_cause,
        COALESCE(e.n_connects, 0) AS n_connects,
        COALESCE(e.n_failed_connects, 0) AS n_failed_connects,
        COALESCE(e.n_abandoned_connects, 0) AS n_abandoned_connects,
        -- A third party's failure counts when the job's region had an open anomaly then.
        COALESCE(e.has_unrecovered_failure, false)
            OR (COALESCE(e.has_unrecovered_third_party_failure, false) AND COALESCE(h.anomaly_open, false))
            AS has_unrecovered_failure,
        e.failed_targets,
        CASE WHEN COALESCE(h.anomaly_open, false)
             THEN NULLIF(concat_ws(',', e.unrecovered_targets, e.unrecovered_third_party_targets), '')
             ELSE e.unrecovered_targets END AS unrecovered_targets,
        CASE COALESCE(e.unrecovered_failure_rank, e.failure_rank,
                      CASE WHEN h.anomaly_open THEN e.third_party_failure_rank END)
            WHEN 1 THEN 'dns_error' WHEN 2 THEN 'tls_error' WHEN 3 THEN 'refused' WHEN 4 THEN 'reset'
            WHEN 5 THEN 'unreachable' WHEN 6 THEN 'timeout' WHEN 7 THEN 'abandoned'
        END AS failed_connect_outcome,
        CASE COALESCE(e.unrecovered_failure_rank, e.failure_rank,
                      CASE WHEN h.anomaly_open THEN e.third_party_failure_rank END)
            WHEN 1 THEN 'infra.network.dns' WHEN 2 THEN 'infra.network.tls'
            WHEN 3 THEN 'infra.network.refused' WHEN 4 THEN 'infra.network.reset'
            WHEN 5 THEN 'infra.network.unreachable' ELSE 'infra.network.connect_timeout'
        END AS network_cause,
        COALESCE(h.anomaly_open, false) AS region_anomaly,
        h.connect_failure_rate AS region_connect_failure_rate,
        lower(j.failed_step) IN ('setup', 'checkout', 'clone', 'fetch', 'image_pull', 'cache_restore',
                                 'upload', 'log_upload', 'artifact_upload') AS platform_step,
        lower(j.failed_step) IN ('build', 'compile', 'lint', 'test', 'script', 'config') AS user_step
    FROM jobs j
    LEFT JOIN job_connect_evidence e ON e.job_event_id = j.event_id
    LEFT JOIN signatures s ON s.signature_id = j.matched_signature
    LEFT JOIN region_hour_health h ON h.region = j.region AND h.date = j.date AND h.hour = j.hour
),
ruled AS (
    SELECT
        *,
        CASE
            WHEN runner_reason IN ('worker_lost', 'preempted', 'oom_killed', 'disk_full',
                                   'log_upload_failed', 'requeued') THEN 'runner_reason'
            WHEN platform_step AND n_failed_connects = 0 AND signature_cause = 'user.config' THEN 'config_error'
            WHEN platform_step THEN 'platform_step'
            WHEN has_unrecovered_failure AND signature_attribution = 'user'
                 AND COALESCE(exit_code, 0) <> 0 AND COALESCE(user_step, true) THEN 'conflicting_evidence'
            WHEN has_unrecovered_failure THEN 'failed_connects'
            WHEN matched_signature IS NOT NULL THEN 'signature:' || matched_signature
            WHEN user_step AND COALESCE(exit_code, 1) <> 0 THEN 'user_step'
            WHEN exit_code = 0 AND status = 'failed' THEN 'exit_zero'
            ELSE 'no_evidence'
        END AS rule_id
    FROM facts
),
decided AS (
    SELECT
        *,
        CASE
            WHEN rule_id = 'runner_reason' THEN CASE runner_reason
                WHEN 'oom_killed' THEN 'infra.worker.oom'
                WHEN 'disk_full' THEN 'infra.worker.disk_full'
                WHEN 'log_upload_failed' THEN CASE WHEN n_failed_connects > 0 THEN network_cause ELSE 'infra.platform' END
                WHEN 'requeued' THEN 'infra.platform'
                ELSE 'infra.worker.lost' END
            WHEN rule_id = 'config_error' THEN 'user.config'
            WHEN rule_id = 'platform_step' THEN CASE
                WHEN n_failed_connects > 0 THEN network_cause
                WHEN signature_cause = 'infra.dependency' THEN 'infra.dependency'
                ELSE 'infra.setup' END
            WHEN rule_id = 'conflicting_evidence' THEN 'unknown.conflicting'
            WHEN rule_id = 'failed_connects' THEN network_cause
            WHEN matched_signature IS NOT NULL AND rule_id LIKE 'signature:%' THEN signature_cause
            WHEN rule_id = 'user_step' THEN CASE
                WHEN status = 'timed_out' THEN 'user.timeout'
                WHEN lower(failed_step) = 'test' THEN 'user.test'
                WHEN lower(failed_step) = 'script' THEN 'user.script'
                WHEN lower(failed_step) = 'config' THEN 'user.config'
                ELSE 'user.build' END
            WHEN rule_id = 'exit_zero' THEN 'infra.platform'
            ELSE 'unknown.no_evidence'
        END AS cause,
        CASE
            WHEN rule_id = 'runner_reason' THEN 0.95
            WHEN rule_id = 'platform_step' THEN CASE WHEN n_failed_connects > 0 THEN 0.9 ELSE 0.8 END
            WHEN rule_id = 'config_error' THEN 0.8
            WHEN rule_id = 'conflicting_evidence' THEN 0.5
            WHEN rule_id = 'failed_connects' THEN CASE WHEN region_anomaly THEN 0.9 ELSE 0.85 END
            WHEN rule_id LIKE 'signature:%' THEN 0.8
            WHEN rule_id = 'user_step' THEN 0.75
            WHEN rule_id = 'exit_zero' THEN 0.6
            ELSE 0.0
        END AS base_confidence
    FROM ruled
)
SELECT
    event_id, job_id, run_attempt, project, job_kind, worker_id, region, provider, zone, date, hour,
    started_at, finished_at, status, exit_code, signal, failed_step, runner_reason,
    split_part(cause, '.', 1) AS attribution,
    cause,
    -- Rule 6: an open regional anomaly makes a user attribution less certain, never infra.
    CASE WHEN region_anomaly AND split_part(cause, '.', 1) = 'user' THEN base_confidence - 0.2
         ELSE base_confidence END AS confidence,
    rule_id,
    n_connects, n_failed_connects, n_abandoned_connects, failed_targets, unrecovered_targets,
    failed_connect_outcome, matched_signature, region_anomaly, region_connect_failure_rate
FROM decided;
