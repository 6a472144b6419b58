-- demo_top_causes: the most frequent causes of failed jobs over a period.
SELECT
    cause,
    attribution,
    COUNT(*) AS jobs,
    ROUND(CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER (), 3) AS share
FROM job_classifications
WHERE finished_at >= $since AND finished_at < $until
GROUP BY cause, attribution
ORDER BY jobs DESC, cause
LIMIT 8
