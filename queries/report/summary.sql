-- report_summary: the jobs of a period, how the ones that did not pass were attributed, and
-- the minutes that infrastructure failures cost (whole seconds summed, so the sum is exact).
SELECT
    COUNT(*) AS jobs,
    COUNT(c.event_id) AS failed,
    COALESCE(SUM(CASE WHEN c.attribution = 'infra' THEN 1 ELSE 0 END), 0) AS infra,
    COALESCE(SUM(CASE WHEN c.attribution = 'user' THEN 1 ELSE 0 END), 0) AS "user",
    COALESCE(SUM(CASE WHEN c.attribution = 'unknown' THEN 1 ELSE 0 END), 0) AS unknown,
    COALESCE(SUM(CASE WHEN c.attribution = 'infra'
        THEN CAST(date_part('epoch', j.finished_at) - date_part('epoch', j.started_at) AS BIGINT)
        ELSE 0 END), 0) AS infra_seconds
FROM job_outcomes j
LEFT JOIN job_classifications c ON c.event_id = j.event_id
WHERE j.date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND j.finished_at >= $since
  AND j.finished_at < $until;
