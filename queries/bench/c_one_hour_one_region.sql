-- Benchmark (c): one hour of one region, per target (portable SQL). The generated lake
-- starts at 2022-04-05T23:00Z, so this is its seventh hour.
SELECT target_service, COUNT(*) AS attempts,
       SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END) AS failures,
       AVG(duration_ms) AS mean_duration_ms
FROM connect_attempts
WHERE date = DATE '2022-04-06' AND hour = 5 AND region = 'us-east-2'
GROUP BY target_service
ORDER BY target_service;
