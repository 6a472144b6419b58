-- region_hour_connects: the connect attempts of each region per lake hour, and how many of
-- them failed: any outcome but a success or `other` (abandoned attempts count: a hung
-- connect() is the incident's symptom). region_hour_health judges these counts.
--
-- The region-health detector counts the same in the one pass it makes over the attempts, and
-- the classification it runs after reads its counts here instead of scanning every attempt
-- again (analyze/src/provided.rs). Only this built-in definition is replaced so; a queries
-- directory that redefines the view has it computed as written.
CREATE VIEW region_hour_connects AS
SELECT
    region,
    date,
    hour,
    COUNT(*) AS n_connects,
    COUNT(CASE WHEN outcome <> 'ok' AND outcome <> 'other' THEN 1 END) AS n_failed_connects
FROM connect_attempts
GROUP BY region, date, hour;
