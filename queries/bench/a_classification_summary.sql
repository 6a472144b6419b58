-- Benchmark (a): the region × hour classification summary over the whole lake.
SELECT region, date, hour, attribution, COUNT(*) AS jobs, AVG(confidence) AS mean_confidence
FROM job_classifications
GROUP BY region, date, hour, attribution
ORDER BY region, date, hour, attribution;
