-- health_connect_rows: the connect attempts of one lake hour, as the region-health detector
-- folds them into counts per minute, region and target, and per failing worker
-- (analyze/src/health/connect_read.rs). The detector reads its window hour by hour with this
-- statement: every attempt once, in one pass, with memory bounded by a few hours whatever the
-- length of the window.
--
-- The whole hour is read, though the window may start or end inside it: the detector also
-- counts every attempt of the hour by region, the rows of `region_hour_connects` that the
-- classification of the window's jobs needs (analyze/src/provided.rs). A job's connects to its
-- own targets (a test's database on loopback, `own_target`) count there only: they say nothing
-- of the platform. In the cells, abandoned attempts (a connect still hanging when its job
-- ended) count as timeouts, and `other` is neither a success nor a failure of the path.
--
-- `third_party` marks attempts to third parties (a public package registry): the detector
-- counts their failures per hour, and when the hours of a span of jobs have none, the jobs'
-- classification need not look at the hours around them for the third-party check (reading.rs).
--
-- Parameters: $date and $hour, the partition to read (the lake partitions attempts by the
-- hour they started, so no other directory is listed).
SELECT region, target_service, worker_id, started_at, outcome, target_owner = 'job' AS own_target,
       target_owner = 'third_party' AS third_party
FROM connect_attempts
WHERE date = $date AND hour = $hour
