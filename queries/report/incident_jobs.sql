-- report_incident_jobs: what one incident cost: the failed jobs of its scope that finished
-- while it was open and were attributed to infrastructure (to the users, for a project's
-- storm), and the seconds they ran (whole seconds summed, so the sum is exact).
SELECT
    COUNT(*) AS jobs,
    COALESCE(SUM(CAST(date_part('epoch', finished_at) - date_part('epoch', started_at) AS BIGINT)), 0) AS seconds
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
      END;
