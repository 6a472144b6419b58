-- demo_failed_jobs_by_region: the jobs of a period that did not pass, by region and by whose
-- fault the classification says they were.
SELECT
    region,
    COUNT(*) AS failed_jobs,
    COUNT(CASE WHEN attribution = 'infra' THEN 1 END) AS infra,
    COUNT(CASE WHEN attribution = 'user' THEN 1 END) AS "user",
    COUNT(CASE WHEN attribution = 'unknown' THEN 1 END) AS unknown,
    ROUND(CAST(COUNT(CASE WHEN attribution = 'infra' THEN 1 END) AS DOUBLE) / COUNT(*), 3) AS infra_share
FROM job_classifications
WHERE finished_at >= $since AND finished_at < $until
GROUP BY region
ORDER BY failed_jobs DESC, region
