-- region_hour_health: connect health of each region per hour, and whether the region had an
-- open anomaly then. An anomaly is open when at least 20 attempts were made and at least 20 %
-- of them failed (abandoned attempts count as failures: a hung connect() is the incident's
-- symptom). Classification shows it as evidence; it never decides a job on its own.
CREATE VIEW region_hour_health AS
WITH counted AS (
    SELECT
        region,
        date,
        hour,
        COUNT(*) AS n_connects,
        COUNT(CASE WHEN outcome <> 'ok' AND outcome <> 'other' THEN 1 END) AS n_failed_connects
    FROM connect_attempts
    GROUP BY region, date, hour
)
SELECT
    region, date, hour, n_connects, n_failed_connects,
    CAST(n_failed_connects AS DOUBLE) / CAST(n_connects AS DOUBLE) AS connect_failure_rate,
    n_connects >= 20 AND CAST(n_failed_connects AS DOUBLE) >= 0.2 * CAST(n_connects AS DOUBLE) AS anomaly_open
FROM counted;
