-- When does each phase happen? Per run (seed), from the training rollouts of
-- every step (`sample` stage):
--   * execution: per-fact arithmetic accuracy (`exec/accuracy`);
--   * planning: first-strategy accuracy (`strategy/first_correct`).
-- Each curve is smoothed with a centred 5-step moving average. Its gain is
-- (mean of the last 5 steps) − (mean of the first 3); t50 is the first step
-- at which the smoothed curve has covered half of that gain (NULL when the
-- gain is below 0.02: no phase to time). The paper's order (phase ①
-- execution, then phase ② planning) shows as exec t50 < plan t50.
--
--   deno task sql --results results experiments/sql/two_phase_timing.sql
WITH labelled AS (
  SELECT run_id, seed,
    coalesce(nullif(trim(regexp_replace(label, '(^|\s)seed=\S+', '', 'g')), ''), experiment)
      AS method
  FROM runs
  WHERE status = 'done'
),
raw AS (
  SELECT run_id, step,
    CASE name WHEN 'exec/accuracy' THEN 'exec' ELSE 'plan' END AS curve, value
  FROM metrics
  WHERE stage = 'sample' AND name IN ('exec/accuracy', 'strategy/first_correct')
),
smooth AS (
  SELECT run_id, curve, step,
    avg(value) OVER (PARTITION BY run_id, curve ORDER BY step
      ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS value,
    max(step) OVER (PARTITION BY run_id, curve) AS last_step
  FROM raw
),
ends AS (
  SELECT run_id, curve,
    avg(value) FILTER (WHERE step <= 2) AS first_v,
    avg(value) FILTER (WHERE step > last_step - 5) AS last_v
  FROM (SELECT r.run_id, r.curve, r.step, r.value, s.last_step
        FROM raw r JOIN smooth s USING (run_id, curve, step))
  GROUP BY run_id, curve
),
t50 AS (
  SELECT s.run_id, s.curve, e.last_v - e.first_v AS gain,
    min(s.step) FILTER (
      WHERE e.last_v - e.first_v >= 0.02
        AND s.value >= e.first_v + 0.5 * (e.last_v - e.first_v)
    ) AS t50
  FROM smooth s JOIN ends e USING (run_id, curve)
  GROUP BY s.run_id, s.curve, e.last_v, e.first_v
)
SELECT l.method, l.seed,
  round(max(gain) FILTER (WHERE curve = 'exec'), 3) AS "exec gain",
  max(t50) FILTER (WHERE curve = 'exec') AS "exec t50",
  round(max(gain) FILTER (WHERE curve = 'plan'), 3) AS "plan gain",
  max(t50) FILTER (WHERE curve = 'plan') AS "plan t50",
  CASE
    WHEN max(t50) FILTER (WHERE curve = 'exec') IS NULL
      OR max(t50) FILTER (WHERE curve = 'plan') IS NULL THEN 'n/a'
    WHEN max(t50) FILTER (WHERE curve = 'exec') < max(t50) FILTER (WHERE curve = 'plan')
      THEN 'execution first'
    WHEN max(t50) FILTER (WHERE curve = 'exec') > max(t50) FILTER (WHERE curve = 'plan')
      THEN 'planning first'
    ELSE 'together'
  END AS "order"
FROM t50 JOIN labelled l USING (run_id)
GROUP BY l.method, l.seed
ORDER BY l.method, l.seed;
