-- eval_classifications: every failed job's attribution and cause, for `failscope eval` to
-- score against the simulator's ground truth.
SELECT job_id, attribution, cause
FROM job_classifications
