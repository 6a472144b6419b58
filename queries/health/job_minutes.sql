-- health_job_minutes: finished jobs per minute, region and project, with how many did not pass
-- and how the classification attributed those, for the region-health detector. A job counts
-- in the minute it finished (the lake partitions job outcomes by that time). The window
-- parameters are those of job_starts.sql. The detector runs it in a session that reads
-- only the lake partitions these jobs' classification can look at (job_starts.sql), so that a
-- live tick's cost follows its window and not the size of the lake.
--
-- The jobs that did not pass are exactly the rows of job_classifications, so the statement adds
-- two aggregates rather than joining every finished job to its classification.
WITH window_jobs AS (
    SELECT region, project, to_unixtime(finished_at) / 60 AS minute,
           COUNT(*) AS n_jobs,
           COUNT(CASE WHEN status <> 'passed' THEN 1 END) AS n_failed,
           0 AS n_infra, 0 AS n_user, 0 AS n_unknown
    FROM job_outcomes
    WHERE date >= $since_date AND date <= $until_date
      AND (date > $since_date OR hour >= $since_hour)
      AND (date < $until_date OR hour <= $until_hour)
      AND finished_at >= $since AND finished_at < $until
    GROUP BY region, project, to_unixtime(finished_at) / 60
),
window_classifications AS (
    SELECT region, project, to_unixtime(finished_at) / 60 AS minute,
           0 AS n_jobs, 0 AS n_failed,
           COUNT(CASE WHEN attribution = 'infra' THEN 1 END) AS n_infra,
           COUNT(CASE WHEN attribution = 'user' THEN 1 END) AS n_user,
           COUNT(CASE WHEN attribution = 'unknown' THEN 1 END) AS n_unknown
    FROM job_classifications
    WHERE date >= $since_date AND date <= $until_date
      AND (date > $since_date OR hour >= $since_hour)
      AND (date < $until_date OR hour <= $until_hour)
      AND finished_at >= $since AND finished_at < $until
    GROUP BY region, project, to_unixtime(finished_at) / 60
)
SELECT region, project, minute,
       SUM(n_jobs) AS n_jobs, SUM(n_failed) AS n_failed,
       SUM(n_infra) AS n_infra, SUM(n_user) AS n_user, SUM(n_unknown) AS n_unknown
FROM (SELECT * FROM window_jobs UNION ALL SELECT * FROM window_classifications) AS counted
GROUP BY region, project, minute
