-- report_top_signatures: the ten known log signatures that matched most failed jobs of a
-- period, with the cause each stands for.
SELECT matched_signature AS signature, cause, COUNT(*) AS jobs
FROM job_classifications
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND finished_at >= $since
  AND finished_at < $until
  AND matched_signature IS NOT NULL
GROUP BY matched_signature, cause
ORDER BY jobs DESC, signature, cause
LIMIT 10;
