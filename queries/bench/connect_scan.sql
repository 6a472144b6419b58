-- The benchmark's reference for the region-health replay: one full scan of the connect
-- attempts, reading the columns the detector reads, grouped as coarsely as it groups.
SELECT region, target_service, worker_id, outcome, COUNT(*) AS n
FROM connect_attempts
GROUP BY region, target_service, worker_id, outcome
