-- top_causes_by_region_day: the ten most frequent causes of non-passing jobs per region and
-- day, with their share of that day's failures in the region.
CREATE VIEW top_causes_by_region_day AS
WITH counted AS (
    SELECT region, date, attribution, cause, COUNT(*) AS jobs
    FROM job_classifications
    GROUP BY region, date, attribution, cause
),
ranked AS (
    SELECT
        *,
        CAST(jobs AS DOUBLE) / CAST(SUM(jobs) OVER (PARTITION BY region, date) AS DOUBLE) AS share,
        ROW_NUMBER() OVER (PARTITION BY region, date ORDER BY jobs DESC, cause) AS rank_in_day
    FROM counted
)
SELECT region, date, rank_in_day, attribution, cause, jobs, share
FROM ranked
WHERE rank_in_day <= 10;
