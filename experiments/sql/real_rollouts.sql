-- Real-rollout analysis (experiments/real_rollouts.yaml): per dump step,
--   1. pass@k and reward, planning-token ratio and semantic entropy (paper and mined grams),
--      token entropy and perplexity split planning / execution, and relative perplexity
--      (perplexity / its value at the first step, paper §2.2.1);
--   2. per estimator: mean advantage on planning tokens vs all tokens and the amplified share;
--   3. the three readers agree: pass@1 and semantic entropy per step for hicra, verl and TRL.
--
--   deno task sql experiments/sql/real_rollouts.sql
WITH m AS (
  SELECT step, stage, name, avg(value) AS v
  FROM metrics
  WHERE stage IN ('rollouts', 'planning', 'planning-mined')
  GROUP BY step, stage, name
),
w AS (
  SELECT step,
    max(v) FILTER (WHERE stage = 'rollouts' AND name = 'source_step') AS "dump step",
    max(v) FILTER (WHERE stage = 'rollouts' AND name = 'pass@1') AS "pass@1",
    max(v) FILTER (WHERE stage = 'rollouts' AND name = 'pass@8') AS "pass@8",
    max(v) FILTER (WHERE stage = 'planning' AND name = 'planning_ratio') AS "planning ratio",
    max(v) FILTER (WHERE stage = 'planning' AND name = 'semantic_entropy') AS "sem. entropy",
    max(v) FILTER (WHERE stage = 'planning-mined' AND name = 'semantic_entropy')
      AS "sem. entropy (mined)",
    max(v) FILTER (WHERE stage = 'planning' AND name = 'token_entropy/planning') AS "H plan",
    max(v) FILTER (WHERE stage = 'planning' AND name = 'token_entropy/execution') AS "H exec",
    max(v) FILTER (WHERE stage = 'planning' AND name = 'perplexity/planning') AS ppl_plan,
    max(v) FILTER (WHERE stage = 'planning' AND name = 'perplexity/execution') AS ppl_exec
  FROM m
  GROUP BY step
)
SELECT CAST("dump step" AS INTEGER) AS "dump step", "pass@1", "pass@8", "planning ratio", "sem. entropy", "sem. entropy (mined)",
  "H plan", "H exec",
  ppl_plan / first_value(ppl_plan) OVER (ORDER BY step) AS "rel. ppl plan",
  ppl_exec / first_value(ppl_exec) OVER (ORDER BY step) AS "rel. ppl exec"
FROM w
ORDER BY step;

SELECT replace(stage, 'credit-', '') AS estimator,
  avg(value) FILTER (WHERE name = 'adv/planning_mean') AS "adv planning",
  avg(value) FILTER (WHERE name = 'adv/mean') AS "adv all",
  avg(value) FILTER (WHERE name = 'adv/abs_mean') AS "|adv|",
  avg(value) FILTER (WHERE name = 'adv/amplified_frac') AS "amplified share"
FROM metrics
WHERE stage LIKE 'credit-%'
GROUP BY stage
ORDER BY stage;

SELECT step,
  max(value) FILTER (WHERE stage = 'rollouts' AND name = 'pass@1') AS "pass@1 hicra",
  max(value) FILTER (WHERE stage = 'rollouts-verl' AND name = 'pass@1') AS "pass@1 verl",
  max(value) FILTER (WHERE stage = 'rollouts-trl' AND name = 'pass@1') AS "pass@1 trl",
  max(value) FILTER (WHERE stage = 'planning' AND name = 'semantic_entropy') AS "sem. H hicra",
  max(value) FILTER (WHERE stage = 'planning-verl' AND name = 'semantic_entropy') AS "sem. H verl",
  max(value) FILTER (WHERE stage = 'planning-trl' AND name = 'semantic_entropy') AS "sem. H trl"
FROM metrics
WHERE stage IN ('rollouts', 'rollouts-verl', 'rollouts-trl', 'planning', 'planning-verl',
  'planning-trl')
GROUP BY step
ORDER BY step;
