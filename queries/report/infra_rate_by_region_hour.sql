-- report_infra_rate_by_region_hour: per region and hour of a period, the jobs that finished
-- and the share of them that failed because of infrastructure (the heatmap).
SELECT
    region,
    hour_start,
    jobs,
    infra,
    CAST(infra AS DOUBLE) / CAST(jobs AS DOUBLE) AS infra_failure_rate
FROM failures_by_region_hour
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND hour_start >= date_trunc('hour', $since)
  AND hour_start < $until
ORDER BY region, hour_start;
