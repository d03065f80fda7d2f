-- What ran: one row per run (sweep point) with its status, wall-clock times,
-- how many stage instances were computed vs served from the cache (and the
-- seconds spent computing), the error of a failed run, and only those sweep
-- parameters that differ between the runs of the same experiment.
--
--   deno task sql --results results experiments/sql/runs.sql
WITH param_kv AS (
  -- One row per (run, parameter) of the sweep overrides.
  SELECT r.run_id, r.experiment, k.key, json_extract(r.params, k.key)::VARCHAR AS val
  FROM runs r, unnest(json_keys(r.params)) AS k(key)
),
varying AS (
  -- Parameters whose value (or presence) is not the same for every run of an experiment.
  SELECT p.experiment, p.key
  FROM param_kv p
  JOIN (SELECT experiment, count(*) AS n_runs FROM runs GROUP BY experiment) e USING (experiment)
  GROUP BY p.experiment, p.key, e.n_runs
  HAVING count(DISTINCT p.val) > 1 OR count(*) < e.n_runs
),
differs AS (
  SELECT p.run_id,
    string_agg(p.key || '=' || trim(p.val, '"'), ' ' ORDER BY p.key) AS params
  FROM param_kv p JOIN varying v USING (experiment, key)
  GROUP BY p.run_id
),
inst AS (
  SELECT run_id,
    count(*) FILTER (WHERE NOT cached) AS computed,
    count(*) FILTER (WHERE cached) AS cached,
    round(sum(seconds) FILTER (WHERE NOT cached), 1) AS compute_s
  FROM instances GROUP BY run_id
)
SELECT
  r.run_id,
  r.experiment,
  r.label,
  r.seed,
  r.status,
  strftime(r.started_at, '%Y-%m-%d %H:%M:%S') AS started,
  round(epoch(r.finished_at) - epoch(r.started_at), 1) AS wall_s,
  coalesce(i.computed, 0) AS computed,
  coalesce(i.cached, 0) AS cached,
  i.compute_s,
  coalesce(d.params, '') AS differing_params,
  coalesce(r.error, '') AS error
FROM runs r
LEFT JOIN inst i USING (run_id)
LEFT JOIN differs d USING (run_id)
ORDER BY r.experiment, r.label, r.run_id;
