-- health_connect_cells: connect attempts per minute, region and target, with the failures by
-- kind, for the region-health detector (analyze/src/health): the cells it judges. Abandoned
-- attempts (a connect still hanging when its job ended) count as timeouts: a hung connect()
-- is the April 2022 symptom. `other` outcomes are neither successes nor failures of the path.
-- A job's connects to its own targets (a test's database on loopback) say nothing of the
-- platform and are left out.
--
-- Parameters: $since/$until (timestamps, half-open window) and the same window as dates and
-- hours ($since_date, $since_hour, $until_date, $until_hour). The date/hour conditions touch
-- partition columns only, so the scan lists just the directories of the window: a live tick
-- costs what the new minutes cost, whatever the size of the lake.
SELECT
    region,
    target_service,
    to_unixtime(started_at) / 60 AS minute,
    COUNT(*) AS n_attempts,
    COUNT(CASE WHEN outcome IN ('timeout', 'abandoned') THEN 1 END) AS n_timeouts,
    COUNT(CASE WHEN outcome = 'refused' THEN 1 END) AS n_refused,
    COUNT(CASE WHEN outcome = 'dns_error' THEN 1 END) AS n_dns,
    COUNT(CASE WHEN outcome IN ('reset', 'unreachable', 'tls_error') THEN 1 END) AS n_other_failed,
    COUNT(CASE WHEN outcome = 'other' THEN 1 END) AS n_inconclusive
FROM connect_attempts
WHERE date >= $since_date AND date <= $until_date
  AND (date > $since_date OR hour >= $since_hour)
  AND (date < $until_date OR hour <= $until_hour)
  AND started_at >= $since AND started_at < $until
  AND target_owner <> 'job'
GROUP BY region, target_service, to_unixtime(started_at) / 60
