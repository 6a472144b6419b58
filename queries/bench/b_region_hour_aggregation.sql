-- Benchmark (b): failures and connect failure rate by region and hour (portable SQL).
WITH j AS (
    SELECT region, date, hour, COUNT(*) AS jobs,
           SUM(CASE WHEN status <> 'passed' THEN 1 ELSE 0 END) AS failed
    FROM job_outcomes
    GROUP BY region, date, hour
),
c AS (
    SELECT region, date, hour, COUNT(*) AS attempts,
           SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END) AS failures
    FROM connect_attempts
    GROUP BY region, date, hour
)
SELECT j.region, j.date, j.hour, j.jobs, j.failed, c.attempts,
       CAST(c.failures AS DOUBLE) / CAST(c.attempts AS DOUBLE) AS connect_failure_rate
FROM j
JOIN c ON c.region = j.region AND c.date = j.date AND c.hour = j.hour
ORDER BY j.region, j.date, j.hour;
