-- failures_by_region_hour: per region and hour (of finishing), how many jobs ran, how many did
-- not pass, and how those were attributed. infra_rate is infra / failed.
CREATE VIEW failures_by_region_hour AS
SELECT
    j.region,
    j.date,
    j.hour,
    MIN(date_trunc('hour', j.finished_at)) AS hour_start,
    COUNT(*) AS jobs,
    COUNT(c.event_id) AS failed,
    SUM(CASE WHEN c.attribution = 'infra' THEN 1 ELSE 0 END) AS infra,
    SUM(CASE WHEN c.attribution = 'user' THEN 1 ELSE 0 END) AS "user",
    SUM(CASE WHEN c.attribution = 'unknown' THEN 1 ELSE 0 END) AS unknown,
    CASE WHEN COUNT(c.event_id) = 0 THEN 0.0
         ELSE CAST(SUM(CASE WHEN c.attribution = 'infra' THEN 1 ELSE 0 END) AS DOUBLE)
              / CAST(COUNT(c.event_id) AS DOUBLE) END AS infra_rate
FROM job_outcomes j
LEFT JOIN job_classifications c ON c.event_id = j.event_id
GROUP BY j.region, j.date, j.hour;
