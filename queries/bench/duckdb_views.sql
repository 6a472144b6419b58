-- The lake as DuckDB sees it, for the benchmark's comparison: the same raw tables (hive
-- partitions typed like failscope's) and the same deduplicating views as queries/views/.
CREATE VIEW connect_attempts_raw AS
SELECT * FROM read_parquet('{lake}/connect_attempts/*/*/*.parquet', hive_partitioning = true,
                           hive_types = {'date': DATE, 'hour': INTEGER});
CREATE VIEW job_outcomes_raw AS
SELECT * FROM read_parquet('{lake}/job_outcomes/*/*/*.parquet', hive_partitioning = true,
                           hive_types = {'date': DATE, 'hour': INTEGER});
CREATE VIEW connect_attempts AS
SELECT DISTINCT ON (date, hour, region, event_id) * FROM connect_attempts_raw;
CREATE VIEW job_outcomes AS
SELECT DISTINCT ON (date, hour, region, event_id) * FROM job_outcomes_raw;
