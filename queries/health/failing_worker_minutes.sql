-- health_failing_worker_minutes: the connect attempts of the workers that failed a connect in
-- the window, per minute, region, target and worker, for the region-health detector's bad-host
-- and concentration tests (analyze/src/health). Workers that never failed are left out: they
-- are most of the fleet, their attempts are already in connect_cells.sql, and nothing the
-- detector decides looks at a worker without failures. Outcomes count as in
-- connect_cells.sql; the parameters are the same.
WITH attempts AS (
    SELECT region, target_service, worker_id, to_unixtime(started_at) / 60 AS minute, outcome
    FROM connect_attempts
    WHERE date >= $since_date AND date <= $until_date
      AND (date > $since_date OR hour >= $since_hour)
      AND (date < $until_date OR hour <= $until_hour)
      AND started_at >= $since AND started_at < $until
      AND target_owner <> 'job'
)
SELECT
    region,
    target_service,
    worker_id,
    minute,
    COUNT(*) AS n_attempts,
    COUNT(CASE WHEN outcome IN ('timeout', 'abandoned') THEN 1 END) AS n_timeouts,
    COUNT(CASE WHEN outcome = 'refused' THEN 1 END) AS n_refused,
    COUNT(CASE WHEN outcome = 'dns_error' THEN 1 END) AS n_dns,
    COUNT(CASE WHEN outcome IN ('reset', 'unreachable', 'tls_error') THEN 1 END) AS n_other_failed,
    COUNT(CASE WHEN outcome = 'other' THEN 1 END) AS n_inconclusive
FROM attempts
WHERE worker_id IN (
    SELECT worker_id
    FROM attempts
    WHERE outcome IN ('timeout', 'abandoned', 'refused', 'dns_error', 'reset', 'unreachable', 'tls_error')
)
GROUP BY region, target_service, worker_id, minute
