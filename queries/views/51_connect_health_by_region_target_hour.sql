-- connect_health_by_region_target_hour: per region, target service and hour, the connect
-- attempts, their failures by outcome, and latency percentiles (approximate, in ms).
CREATE VIEW connect_health_by_region_target_hour AS
SELECT
    region,
    target_service,
    date,
    hour,
    MIN(date_trunc('hour', started_at)) AS hour_start,
    COUNT(*) AS attempts,
    SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END) AS failures,
    SUM(CASE WHEN outcome = 'timeout' THEN 1 ELSE 0 END) AS timeout,
    SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END) AS abandoned,
    SUM(CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END) AS refused,
    SUM(CASE WHEN outcome = 'reset' THEN 1 ELSE 0 END) AS reset,
    SUM(CASE WHEN outcome = 'unreachable' THEN 1 ELSE 0 END) AS unreachable,
    SUM(CASE WHEN outcome = 'dns_error' THEN 1 ELSE 0 END) AS dns_error,
    SUM(CASE WHEN outcome = 'tls_error' THEN 1 ELSE 0 END) AS tls_error,
    SUM(CASE WHEN outcome = 'other' THEN 1 ELSE 0 END) AS other,
    CAST(SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE) AS failure_rate,
    approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
    approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
FROM connect_attempts
GROUP BY region, target_service, date, hour;
