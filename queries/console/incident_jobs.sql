-- console_incident_jobs: the jobs one incident affected, newest first, for the web console's
-- incident list: the failed jobs of its scope that finished while it was open and were
-- attributed to infrastructure (to the users, for a project's storm), as
-- queries/report/incident_jobs.sql counts them.
SELECT job_id, run_attempt, project, region, worker_id, finished_at, cause, rule_id, failed_targets
FROM job_classifications
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND finished_at >= $since
  AND finished_at < $until
  AND attribution = CASE WHEN $scope = 'project' THEN 'user' ELSE 'infra' END
  AND CASE
        WHEN $scope = 'region' THEN region = $name
        WHEN $scope = 'worker' THEN worker_id = $name
        WHEN $scope = 'project' THEN project = $name
        WHEN $scope = 'target' THEN strpos(concat(',', failed_targets, ','), concat(',', $name, ',')) > 0
        ELSE false
      END
ORDER BY finished_at DESC, job_id
LIMIT 100;
