-- demo_first_failed_connect: a region's first failed (or abandoned) connect from an instant on:
-- where the clock of a diagnosis starts.
SELECT MIN(started_at) AS first_failed_at
FROM connect_attempts
WHERE region = $region
  AND started_at >= $since
  AND outcome IN ('timeout', 'refused', 'reset', 'unreachable', 'dns_error', 'tls_error', 'abandoned')
