-- region_hour_health: connect health of each region per hour, and whether the region had an
-- open anomaly then. An anomaly is open when at least 20 attempts were made and at least 20 %
-- of them failed (region_hour_connects says which count as failed). Classification shows it
-- as evidence; it never decides a job on its own.
CREATE VIEW region_hour_health AS
SELECT
    region, date, hour, n_connects, n_failed_connects,
    CAST(n_failed_connects AS DOUBLE) / CAST(n_connects AS DOUBLE) AS connect_failure_rate,
    n_connects >= 20 AND CAST(n_failed_connects AS DOUBLE) >= 0.2 * CAST(n_connects AS DOUBLE) AS anomaly_open
FROM region_hour_connects;
