-- name: connect-health
-- description: Connect attempts, failures by outcome and p50/p95 latency per region, target and hour
-- params: since, until, region
SELECT region, target_service, hour_start, attempts, failures, timeout, abandoned, refused, reset,
       unreachable, dns_error, tls_error, other, failure_rate, p50_ms, p95_ms
FROM connect_health_by_region_target_hour
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND hour_start >= $since
  AND hour_start < $until
  AND ($region IS NULL OR region = $region)
ORDER BY region, target_service, hour_start;
