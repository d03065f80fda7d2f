-- How entropy tracks accuracy, per run (paper §2.2: semantic entropy co-moves
-- with accuracy while token entropy does not).
--   * corr over training steps (sample + cluster-entropy stages) of the
--     semantic entropy and the token entropy with the training reward;
--   * corr over evaluate steps of the eval semantic / token entropy with
--     held-out pass@1 (id);
--   * first -> last step deltas of reward, semantic entropy and token entropy,
--     and final-eval minus evaluate-base for pass@1 id.
-- corr() is NULL with fewer than two steps and NaN when a series is constant.
--
--   deno task sql --results results experiments/sql/entropy_vs_accuracy.sql
WITH train AS (
  SELECT run_id, step,
    avg(value) FILTER (WHERE stage = 'sample' AND name = 'reward/mean') AS reward,
    avg(value) FILTER (WHERE stage = 'sample' AND name = 'token_entropy/all') AS tok_h,
    avg(value) FILTER (WHERE stage = 'cluster-entropy' AND name = 'semantic_entropy') AS sem_h
  FROM metrics
  WHERE step IS NOT NULL
  GROUP BY run_id, step
),
train_stats AS (
  SELECT run_id,
    count(*) AS steps,
    corr(sem_h, reward) AS "corr(semH, reward)",
    corr(tok_h, reward) AS "corr(tokH, reward)",
    arg_max(reward, step) - arg_min(reward, step) AS "Δ reward",
    arg_max(sem_h, step) - arg_min(sem_h, step) AS "Δ semH",
    arg_max(tok_h, step) - arg_min(tok_h, step) AS "Δ tokH"
  FROM train
  GROUP BY run_id
),
evals AS (
  SELECT run_id, step,
    avg(value) FILTER (WHERE name = 'pass@1/id') AS pass1,
    avg(value) FILTER (WHERE name = 'semantic_entropy') AS sem_h,
    avg(value) FILTER (WHERE name = 'token_entropy/all') AS tok_h
  FROM metrics
  WHERE stage = 'evaluate' AND step IS NOT NULL
  GROUP BY run_id, step
),
eval_stats AS (
  SELECT run_id,
    count(*) AS eval_steps,
    corr(sem_h, pass1) AS "corr(semH, pass@1)",
    corr(tok_h, pass1) AS "corr(tokH, pass@1)"
  FROM evals
  GROUP BY run_id
),
gain AS (
  SELECT run_id,
    avg(value) FILTER (WHERE stage = 'final-eval') - avg(value) FILTER (WHERE stage = 'evaluate-base')
      AS "Δ pass@1 id (final-base)"
  FROM metrics
  WHERE name = 'pass@1/id' AND stage IN ('final-eval', 'evaluate-base')
  GROUP BY run_id
)
SELECT r.label, t.*, e.* EXCLUDE (run_id), g.* EXCLUDE (run_id)
FROM runs r
JOIN train_stats t USING (run_id)
LEFT JOIN eval_stats e USING (run_id)
LEFT JOIN gain g USING (run_id)
ORDER BY r.label;
