-- report_top_causes: the ten most frequent causes of the jobs that did not pass in a period.
SELECT cause, attribution, COUNT(*) AS jobs
FROM job_classifications
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND finished_at >= $since
  AND finished_at < $until
GROUP BY cause, attribution
ORDER BY jobs DESC, cause
LIMIT 10;
