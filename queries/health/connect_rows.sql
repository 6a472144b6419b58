-- health_connect_rows: the connect attempts of one lake hour, as the region-health detector
-- folds them into counts per minute, region and target, and per failing worker
-- (analyze/src/health/connect_read.rs). The detector reads its window hour by hour with this
-- statement: every attempt once, in one pass, with memory bounded by a few hours whatever the
-- length of the window.
--
-- A job's connects to its own targets (a test's database on loopback) say nothing of the
-- platform and are left out. The outcome decides the counts: abandoned attempts (a connect
-- still hanging when its job ended) count as timeouts, `other` is neither a success nor a
-- failure of the path.
--
-- Parameters: $date and $hour, the partition to read (the lake partitions attempts by the
-- hour they started, so no other directory is listed), and $since/$until, the part of that
-- hour in the window (half-open).
SELECT region, target_service, worker_id, started_at, outcome
FROM connect_attempts
WHERE date = $date AND hour = $hour
  AND started_at >= $since AND started_at < $until
  AND target_owner <> 'job'
