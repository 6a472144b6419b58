-- health_connect_minutes: connect attempts per minute, region and target, with the failures by
-- kind, for the region-health detector (analyze/src/health). One row per cell and minute for
-- the workers that never failed a connect in the window read (`failing_worker` null), and one
-- row per cell, minute and worker for those that did: the detector sums the rows of a cell
-- for the cell, and keeps the failing workers' rows for its bad-host and concentration tests.
-- Most of a fleet never fails, so this is about as many rows as cells, from one pass over the
-- attempts; the set of failing workers comes from the failed attempts alone, which the scan
-- finds by decoding the outcome column first.
--
-- Abandoned attempts (a connect still hanging when its job ended) count as timeouts: a hung
-- connect() is the April 2022 symptom. `other` outcomes are neither successes nor failures of
-- the path. A job's connects to its own targets (a test's database on loopback) say nothing of
-- the platform and are left out.
--
-- Parameters: $since/$until (timestamps, half-open window) and the same window as dates and
-- hours ($since_date, $since_hour, $until_date, $until_hour). The date/hour conditions touch
-- partition columns only, so the scan lists just the directories of the window: a live tick
-- costs what the new minutes cost, whatever the size of the lake.
WITH attempts AS (
    SELECT region, target_service, worker_id, started_at, outcome
    FROM connect_attempts
    WHERE date >= $since_date AND date <= $until_date
      AND (date > $since_date OR hour >= $since_hour)
      AND (date < $until_date OR hour <= $until_hour)
      AND started_at >= $since AND started_at < $until
      AND target_owner <> 'job'
),
failing AS (
    SELECT DISTINCT worker_id
    FROM attempts
    WHERE outcome IN ('timeout', 'abandoned', 'refused', 'dns_error', 'reset', 'unreachable', 'tls_error')
)
SELECT
    a.region,
    a.target_service,
    f.worker_id AS failing_worker,
    to_unixtime(a.started_at) / 60 AS minute,
    COUNT(*) AS n_attempts,
    COUNT(CASE WHEN a.outcome IN ('timeout', 'abandoned') THEN 1 END) AS n_timeouts,
    COUNT(CASE WHEN a.outcome = 'refused' THEN 1 END) AS n_refused,
    COUNT(CASE WHEN a.outcome = 'dns_error' THEN 1 END) AS n_dns,
    COUNT(CASE WHEN a.outcome IN ('reset', 'unreachable', 'tls_error') THEN 1 END) AS n_other_failed,
    COUNT(CASE WHEN a.outcome = 'other' THEN 1 END) AS n_inconclusive
FROM attempts a
LEFT JOIN failing f ON f.worker_id = a.worker_id
GROUP BY a.region, a.target_service, f.worker_id, to_unixtime(a.started_at) / 60
