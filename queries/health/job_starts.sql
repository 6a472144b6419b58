-- health_job_starts: when the earliest of the jobs that job_minutes.sql reads started. The
-- detector runs job_minutes.sql in a session that reads only the lake partitions from an hour
-- before this start to an hour after the window (scan_window.rs): every connect attempt the
-- classification of those jobs can look at (their own, and the other regions' within an hour
-- of a failure) lies in between.
--
-- Parameters: $since/$until (timestamps, half-open window) and the same window as dates and
-- hours ($since_date, $since_hour, $until_date, $until_hour), which bound the directories read.
SELECT MIN(started_at) AS earliest_start
FROM job_outcomes
WHERE date >= $since_date AND date <= $until_date
  AND (date > $since_date OR hour >= $since_hour)
  AND (date < $until_date OR hour <= $until_hour)
  AND finished_at >= $since AND finished_at < $until
