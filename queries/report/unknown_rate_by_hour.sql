-- report_unknown_rate_by_hour: per hour of a period, the jobs that did not pass and the share
-- the classifier left unknown (its coverage over time).
SELECT
    date_trunc('hour', finished_at) AS hour_start,
    COUNT(*) AS failed,
    SUM(CASE WHEN attribution = 'unknown' THEN 1 ELSE 0 END) AS unknown,
    CAST(SUM(CASE WHEN attribution = 'unknown' THEN 1 ELSE 0 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) AS unknown_rate
FROM job_classifications
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND finished_at >= $since
  AND finished_at < $until
GROUP BY date_trunc('hour', finished_at)
ORDER BY hour_start;
