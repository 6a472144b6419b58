-- console_job_classification: one job's classification with its evidence, for the web
-- console: the attribution, cause, confidence and the rule that decided it, the matched
-- signature with its pattern and description, the counts of its connects and the failed
-- targets, the regional context, and the runner's reason and log tail the signature read.
-- One row per attempt of the job that did not pass, the latest first.
SELECT
    c.job_id, c.run_attempt, c.project, c.job_kind, c.region, c.zone, c.worker_id,
    c.started_at, c.finished_at, c.status, c.exit_code, c.signal, c.failed_step, c.runner_reason,
    c.attribution, c.cause, c.confidence, c.rule_id,
    c.matched_signature, s.pattern AS signature_pattern, s.description AS signature_description,
    c.n_connects, c.n_failed_connects, c.n_abandoned_connects, c.failed_targets, c.unrecovered_targets,
    c.failed_connect_outcome, c.region_anomaly, c.region_connect_failure_rate,
    o.log_tail
FROM job_classifications c
LEFT JOIN signatures s ON s.signature_id = c.matched_signature
LEFT JOIN job_outcomes o ON o.event_id = c.event_id
WHERE c.job_id = $job_id
ORDER BY c.run_attempt DESC
LIMIT 10;
