-- name: top-causes
-- description: The ten most frequent failure causes per region and day
-- params: since, until, region
SELECT region, date, rank_in_day, attribution, cause, jobs, share
FROM top_causes_by_region_day
WHERE date BETWEEN CAST($since AS DATE) AND CAST($until AS DATE)
  AND ($region IS NULL OR region = $region)
ORDER BY region, date, rank_in_day;
