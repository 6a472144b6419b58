-- The lake as DuckDB sees it, for the benchmark's comparison: the same raw tables (hive
-- partitions typed like failscope's), and the views connect_attempts and job_outcomes with
-- each event id once, deduplicated in SQL: group by the partition columns and the id, and take
-- MAX() of each column (copies are identical). failscope deduplicates inside its scan instead
-- (analyze/src/dedup.rs); the benchmark queries are the same text for both.
CREATE VIEW connect_attempts_raw AS
SELECT * FROM read_parquet('{lake}/connect_attempts/*/*/*.parquet', hive_partitioning = true,
                           hive_types = {'date': DATE, 'hour': INTEGER});
CREATE VIEW job_outcomes_raw AS
SELECT * FROM read_parquet('{lake}/job_outcomes/*/*/*.parquet', hive_partitioning = true,
                           hive_types = {'date': DATE, 'hour': INTEGER});
CREATE VIEW connect_attempts AS
SELECT
    event_id,
    MAX(schema_version) AS schema_version,
    MAX(worker_id) AS worker_id,
    region,
    MAX(provider) AS provider,
    MAX(zone) AS zone,
    MAX(started_at) AS started_at,
    MAX(duration_ms) AS duration_ms,
    MAX(target_service) AS target_service,
    MAX(target_host) AS target_host,
    MAX(target_port) AS target_port,
    MAX(target_addr) AS target_addr,
    MAX(target_region) AS target_region,
    MAX(job_id) AS job_id,
    MAX(phase) AS phase,
    MAX(outcome) AS outcome,
    MAX(errno) AS errno,
    MAX(attempt) AS attempt,
    MAX(error) AS error,
    date,
    CAST(hour AS INT) AS hour
FROM connect_attempts_raw
GROUP BY connect_attempts_raw.date, connect_attempts_raw.hour, connect_attempts_raw.region, connect_attempts_raw.event_id;
CREATE VIEW job_outcomes AS
SELECT
    event_id,
    MAX(schema_version) AS schema_version,
    MAX(worker_id) AS worker_id,
    region,
    MAX(provider) AS provider,
    MAX(zone) AS zone,
    MAX(job_id) AS job_id,
    MAX(run_attempt) AS run_attempt,
    MAX(project) AS project,
    MAX(job_kind) AS job_kind,
    MAX(queued_at) AS queued_at,
    MAX(started_at) AS started_at,
    MAX(finished_at) AS finished_at,
    status,
    MAX(exit_code) AS exit_code,
    MAX(signal) AS signal,
    MAX(failed_step) AS failed_step,
    MAX(runner_reason) AS runner_reason,
    MAX(log_tail) AS log_tail,
    first(labels) AS labels,
    date,
    CAST(hour AS INT) AS hour
FROM job_outcomes_raw
WHERE job_kind <> 'telemetry_loss'
GROUP BY job_outcomes_raw.date, job_outcomes_raw.hour, job_outcomes_raw.region, job_outcomes_raw.event_id,
         job_outcomes_raw.status;
