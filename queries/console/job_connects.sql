-- console_job_connects: the connect attempts one job made, in the order it made them, for
-- the web console's evidence of a job (the first 500).
SELECT
    started_at, target_service, target_host, target_port, target_owner, phase, attempt,
    outcome, errno, error, duration_ms, worker_id
FROM connect_attempts
WHERE job_id = $job_id
ORDER BY started_at, attempt
LIMIT 500;
