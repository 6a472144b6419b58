-- The lake as DuckDB sees it, for the benchmark's comparison: the same raw tables (hive
-- partitions typed like failscope's) and the same deduplicating views: the benchmark appends
-- queries/views/10_connect_attempts.sql unchanged; job_outcomes is spelled out below because
-- DuckDB calls the aggregate first(), not first_value() (which it knows only as a window).
CREATE VIEW connect_attempts_raw AS
SELECT * FROM read_parquet('{lake}/connect_attempts/*/*/*.parquet', hive_partitioning = true,
                           hive_types = {'date': DATE, 'hour': INTEGER});
CREATE VIEW job_outcomes_raw AS
SELECT * FROM read_parquet('{lake}/job_outcomes/*/*/*.parquet', hive_partitioning = true,
                           hive_types = {'date': DATE, 'hour': INTEGER});
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
    MAX(status) AS status,
    MAX(exit_code) AS exit_code,
    MAX(signal) AS signal,
    MAX(failed_step) AS failed_step,
    MAX(runner_reason) AS runner_reason,
    MAX(log_tail) AS log_tail,
    first(labels) AS labels,
    date,
    CAST(hour AS INT) AS hour
FROM job_outcomes_raw
GROUP BY job_outcomes_raw.date, job_outcomes_raw.hour, job_outcomes_raw.region, job_outcomes_raw.event_id;
