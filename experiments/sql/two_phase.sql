-- Two-phase dynamics (paper Fig. 3), per method and training step, averaged
-- over seeds:
--   * token entropy of execution vs planning tokens (sample stage, oracle
--     labels): phase 1 = execution entropy drops and stays below planning;
--   * relative perplexity of planning / execution tokens (evaluate stage,
--     normalised by the warm-start policy; only on evaluate steps);
--   * semantic entropy of matched strategic grams (cluster-entropy stage):
--     phase 2 = it rises together with accuracy and length;
--   * training reward and held-out pass@1 (id), mean response length.
-- "method" = the run label without its "seed=N" part.
--
--   deno task sql --results results experiments/sql/two_phase.sql
WITH labelled AS (
  SELECT run_id,
    coalesce(nullif(trim(regexp_replace(label, '(^|\s)seed=\S+', '', 'g')), ''), experiment)
      AS method
  FROM runs
),
per_run AS (
  -- One row per run and step; each metric read from the stage that defines it.
  SELECT run_id, step,
    avg(value) FILTER (WHERE stage = 'sample' AND name = 'token_entropy/execution') AS h_exec,
    avg(value) FILTER (WHERE stage = 'sample' AND name = 'token_entropy/planning') AS h_plan,
    avg(value) FILTER (WHERE stage = 'evaluate' AND name = 'rel_ppl/execution') AS rppl_exec,
    avg(value) FILTER (WHERE stage = 'evaluate' AND name = 'rel_ppl/planning') AS rppl_plan,
    avg(value) FILTER (WHERE stage = 'cluster-entropy' AND name = 'semantic_entropy') AS sem_h,
    avg(value) FILTER (WHERE stage = 'sample' AND name = 'reward/mean') AS reward,
    avg(value) FILTER (WHERE stage = 'evaluate' AND name = 'pass@1/id') AS pass1_id,
    avg(value) FILTER (WHERE stage = 'sample' AND name = 'length/mean') AS length
  FROM metrics
  WHERE step IS NOT NULL
  GROUP BY run_id, step
)
SELECT
  l.method,
  p.step,
  count(DISTINCT p.run_id) AS seeds,
  avg(p.h_exec) AS "H exec",
  avg(p.h_plan) AS "H plan",
  avg(p.h_plan) - avg(p.h_exec) AS "H gap",
  avg(p.rppl_exec) AS "relPPL exec",
  avg(p.rppl_plan) AS "relPPL plan",
  avg(p.sem_h) AS "sem. entropy",
  avg(p.reward) AS reward,
  avg(p.pass1_id) AS "pass@1 id",
  avg(p.length) AS length
FROM per_run p
JOIN labelled l USING (run_id)
GROUP BY l.method, p.step
ORDER BY l.method, p.step;
