-- job_outcomes: one row per job outcome event, whatever a worker's spool re-delivered.
-- See 10_connect_attempts.sql for why the partition columns are part of the key.
CREATE VIEW job_outcomes AS
SELECT DISTINCT ON (date, hour, region, event_id) *
FROM job_outcomes_raw;
