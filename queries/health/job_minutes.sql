-- health_job_minutes: finished jobs per minute, region and project, with how many did not pass
-- and how the classification attributed those, for the region-health detector. A job counts
-- in the minute it finished (the lake partitions job outcomes by that time). The window
-- parameters are those of connect_minutes.sql. The detector runs it in a session that reads
-- only the lake partitions these jobs' classification can look at (job_starts.sql), so that a
-- live tick's cost follows its window and not the size of the lake.
WITH jobs AS (
    SELECT event_id, region, project, to_unixtime(finished_at) / 60 AS minute, status
    FROM job_outcomes
    WHERE date >= $since_date AND date <= $until_date
      AND (date > $since_date OR hour >= $since_hour)
      AND (date < $until_date OR hour <= $until_hour)
      AND finished_at >= $since AND finished_at < $until
),
classified AS (
    SELECT event_id, attribution
    FROM job_classifications
    WHERE date >= $since_date AND date <= $until_date
      AND (date > $since_date OR hour >= $since_hour)
      AND (date < $until_date OR hour <= $until_hour)
      AND finished_at >= $since AND finished_at < $until
)
SELECT
    j.region,
    j.project,
    j.minute,
    COUNT(*) AS n_jobs,
    COUNT(CASE WHEN j.status <> 'passed' THEN 1 END) AS n_failed,
    COUNT(CASE WHEN c.attribution = 'infra' THEN 1 END) AS n_infra,
    COUNT(CASE WHEN c.attribution = 'user' THEN 1 END) AS n_user,
    COUNT(CASE WHEN c.attribution = 'unknown' THEN 1 END) AS n_unknown
FROM jobs j
LEFT JOIN classified c ON c.event_id = j.event_id
GROUP BY j.region, j.project, j.minute
