-- Final metrics by method (paper Fig. 6-7 / Table 1 analogue): mean ± 95% CI
-- over seeds, CI = t(0.975, n-1) * sd / sqrt(n) (1.96 beyond 30 df; a single
-- seed shows the mean alone).
--   * pass@1 id / ood and pass@k id (largest k recorded, e.g. pass@8) from the
--     final-eval stage, or from the last evaluate step when a run has none;
--   * final semantic entropy, from the same evaluation;
--   * planning-token ratio: cluster-entropy planning_ratio at the last step;
--   * clip fraction: share of response tokens whose ratio was clipped (low or
--     high side) in the update, averaged over steps and minibatches.
-- The last row, "base (warm start)", is the warm-start policy (evaluate-base, one
-- value per seed).
--
--   deno task sql --results results experiments/sql/compare_methods.sql
WITH labelled AS (
  SELECT run_id,
    coalesce(nullif(trim(regexp_replace(label, '(^|\s)seed=\S+', '', 'g')), ''), experiment)
      AS method
  FROM runs
),
t_table(df, t) AS (
  VALUES (1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (6, 2.447),
    (7, 2.365), (8, 2.306), (9, 2.262), (10, 2.228), (11, 2.201), (12, 2.179),
    (13, 2.160), (14, 2.145), (15, 2.131), (16, 2.120), (17, 2.110), (18, 2.101),
    (19, 2.093), (20, 2.086), (21, 2.080), (22, 2.074), (23, 2.069), (24, 2.064),
    (25, 2.060), (26, 2.056), (27, 2.052), (28, 2.048), (29, 2.045), (30, 2.042)
),
last_eval AS (
  -- Per run: the final-eval stage if present, else the last evaluate step.
  SELECT run_id,
    CASE WHEN bool_or(stage = 'final-eval') THEN 'final-eval' ELSE 'evaluate' END AS stage,
    max(step) FILTER (WHERE stage = 'evaluate') AS step
  FROM metrics
  WHERE stage IN ('final-eval', 'evaluate')
  GROUP BY run_id
),
final_metrics AS (
  SELECT m.run_id, m.name, m.value
  FROM metrics m
  JOIN last_eval e ON m.run_id = e.run_id AND m.stage = e.stage
    AND (e.stage = 'final-eval' OR m.step = e.step)
),
k_max AS (
  SELECT max(CAST(regexp_extract(name, '^pass@(\d+)/id$', 1) AS INTEGER)) AS k
  FROM metrics
  WHERE regexp_matches(name, '^pass@\d+/id$') AND name <> 'pass@1/id'
),
plan_ratio AS (
  SELECT run_id, arg_max(value, step) AS planning_ratio
  FROM metrics
  WHERE stage = 'cluster-entropy' AND name = 'planning_ratio'
  GROUP BY run_id
),
clip AS (
  SELECT run_id, avg(frac) AS clip_frac
  FROM (
    SELECT run_id, step, sum(value) AS frac
    FROM metrics
    WHERE stage = 'update' AND name IN ('clip/low', 'clip/high')
    GROUP BY run_id, step
  )
  GROUP BY run_id
),
per_run AS (
  SELECT l.method, f.run_id,
    avg(f.value) FILTER (WHERE f.name = 'pass@1/id') AS pass1_id,
    avg(f.value) FILTER (WHERE f.name = 'pass@1/ood') AS pass1_ood,
    avg(f.value) FILTER (WHERE f.name = 'pass@' || (SELECT k FROM k_max) || '/id') AS passk_id,
    avg(f.value) FILTER (WHERE f.name = 'semantic_entropy') AS sem_h,
    any_value(p.planning_ratio) AS plan_ratio,
    any_value(c.clip_frac) AS clip_frac
  FROM final_metrics f
  JOIN labelled l USING (run_id)
  LEFT JOIN plan_ratio p USING (run_id)
  LEFT JOIN clip c USING (run_id)
  GROUP BY l.method, f.run_id
  UNION ALL
  -- The warm-start policy, once per seed (the runs of one seed share it).
  SELECT 'base (warm start)', 'seed=' || r.seed,
    avg(m.value) FILTER (WHERE m.name = 'pass@1/id'),
    avg(m.value) FILTER (WHERE m.name = 'pass@1/ood'),
    avg(m.value) FILTER (WHERE m.name = 'pass@' || (SELECT k FROM k_max) || '/id'),
    avg(m.value) FILTER (WHERE m.name = 'semantic_entropy'),
    NULL,
    NULL
  FROM metrics m
  JOIN runs r USING (run_id)
  WHERE m.stage = 'evaluate-base'
  GROUP BY r.seed
),
long AS (
  UNPIVOT per_run ON pass1_id, pass1_ood, passk_id, sem_h, plan_ratio, clip_frac
  INTO NAME metric VALUE value
),
stats AS (
  SELECT method, metric, count(value) AS n, avg(value) AS mean,
    coalesce(
      (SELECT t FROM t_table WHERE df = count(value) - 1), 1.96
    ) * stddev_samp(value) / sqrt(count(value)) AS ci
  FROM long
  GROUP BY method, metric
),
cells AS (
  SELECT method, metric, n,
    printf('%.3f', mean) || CASE WHEN n > 1 THEN printf(' ± %.3f', ci) ELSE '' END AS cell
  FROM stats
)
SELECT
  method,
  max(n) AS n,
  max(cell) FILTER (WHERE metric = 'pass1_id') AS "pass@1 id",
  max(cell) FILTER (WHERE metric = 'pass1_ood') AS "pass@1 ood",
  max(cell) FILTER (WHERE metric = 'passk_id') AS "pass@k id",
  (SELECT k FROM k_max) AS k,
  max(cell) FILTER (WHERE metric = 'sem_h') AS "sem. entropy",
  max(cell) FILTER (WHERE metric = 'plan_ratio') AS "planning ratio",
  max(cell) FILTER (WHERE metric = 'clip_frac') AS "clip frac"
FROM cells
GROUP BY method
ORDER BY method = 'base (warm start)', method;
