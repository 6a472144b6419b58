-- name: classifications
-- description: Every non-passing job with its attribution, cause, confidence, rule and evidence
-- params: since, until, region
SELECT event_id, job_id, region, finished_at, status, exit_code, failed_step, runner_reason,
       attribution, cause, confidence, rule_id, n_connects, n_failed_connects,
       n_abandoned_connects, failed_targets, failed_connect_outcome, matched_signature,
       region_anomaly
FROM job_classifications
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND finished_at >= $since
  AND finished_at < $until
  AND ($region IS NULL OR region = $region)
ORDER BY finished_at, job_id;
