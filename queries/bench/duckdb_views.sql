-- The lake as DuckDB sees it, for the benchmark's comparison: the same raw tables (hive
-- partitions typed like failscope's); the benchmark then runs failscope's own deduplicating
-- views, queries/views/10_connect_attempts.sql and 11_job_outcomes.sql, with first_value()
-- renamed first() for DuckDB.
CREATE VIEW connect_attempts_raw AS
SELECT * FROM read_parquet('{lake}/connect_attempts/*/*/*.parquet', hive_partitioning = true,
                           hive_types = {'date': DATE, 'hour': INTEGER});
CREATE VIEW job_outcomes_raw AS
SELECT * FROM read_parquet('{lake}/job_outcomes/*/*/*.parquet', hive_partitioning = true,
                           hive_types = {'date': DATE, 'hour': INTEGER});
