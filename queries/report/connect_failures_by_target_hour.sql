-- report_connect_failures_by_target_hour: per target service and hour of a period, the
-- connect attempts from every region and how many failed.
SELECT
    target_service,
    date_trunc('hour', started_at) AS hour_start,
    COUNT(*) AS attempts,
    SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END) AS failures
FROM connect_attempts
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND started_at >= $since
  AND started_at < $until
GROUP BY target_service, date_trunc('hour', started_at)
ORDER BY target_service, hour_start;
