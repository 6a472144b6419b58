-- eval_failed_connects: when each region's connects failed (abandoned ones included), in time
-- order, for `failscope eval`'s clocks: the first failure of an incident, and when its region
-- had the detector's minimum sample.
SELECT region, started_at
FROM connect_attempts
WHERE outcome IN ('timeout', 'refused', 'reset', 'unreachable', 'dns_error', 'tls_error', 'abandoned')
ORDER BY region, started_at
