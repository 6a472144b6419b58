-- name: unknown-rate
-- description: Share of non-passing jobs left unknown per region and day (a quality figure)
-- params: since, until, region
SELECT region, date, COUNT(*) AS failed,
       SUM(CASE WHEN attribution = 'unknown' THEN 1 ELSE 0 END) AS unknown,
       CAST(SUM(CASE WHEN attribution = 'unknown' THEN 1 ELSE 0 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE)
           AS unknown_rate
FROM job_classifications
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND finished_at >= $since
  AND finished_at < $until
  AND ($region IS NULL OR region = $region)
GROUP BY region, date
ORDER BY region, date;
