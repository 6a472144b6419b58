-- name: failures-by-region-hour
-- description: Jobs, failures and their infra/user/unknown attribution per region and hour
-- params: since, until, region
SELECT region, hour_start, jobs, failed, infra, "user", unknown, infra_rate
FROM failures_by_region_hour
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND hour_start >= $since
  AND hour_start < $until
  AND ($region IS NULL OR region = $region)
ORDER BY region, hour_start;
