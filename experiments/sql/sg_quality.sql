-- Quality of the identified planning-token mask (strategic-gram matching in
-- the cluster-entropy stage) against the oracle planning labels.
--   1. Per method and window of training steps (about four windows): mean
--      mask precision / recall / F1, identified vs oracle planning ratio, and
--      the number of distinct strategic grams matched.
--   2. From the tokens table (assign-credit rows, padding excluded): the
--      tokens most often marked planning although the oracle says execution
--      (false positives) and oracle planning tokens the mask missed (false
--      negatives), with their share of all occurrences of that token.
--
--   deno task sql --results results experiments/sql/sg_quality.sql
WITH labelled AS (
  SELECT run_id,
    coalesce(nullif(trim(regexp_replace(label, '(^|\s)seed=\S+', '', 'g')), ''), experiment)
      AS method
  FROM runs
),
width AS (
  SELECT greatest(1, CAST(ceil((max(step) + 1) / 4.0) AS INTEGER)) AS w
  FROM metrics WHERE stage = 'cluster-entropy'
),
per_step AS (
  SELECT run_id, step,
    avg(value) FILTER (WHERE name = 'mask/precision') AS prec,
    avg(value) FILTER (WHERE name = 'mask/recall') AS rec,
    avg(value) FILTER (WHERE name = 'mask/f1') AS f1,
    avg(value) FILTER (WHERE name = 'planning_ratio') AS ratio,
    avg(value) FILTER (WHERE name = 'sg/distinct_matched') AS distinct_sg
  FROM metrics
  WHERE stage = 'cluster-entropy' AND step IS NOT NULL
  GROUP BY run_id, step
),
oracle AS (
  SELECT run_id, step, avg(value) AS oracle_ratio
  FROM metrics
  WHERE stage = 'sample' AND name = 'planning_ratio/oracle'
  GROUP BY run_id, step
)
SELECT
  l.method,
  (p.step // w.w) * w.w || '–' || ((p.step // w.w) * w.w + w.w - 1) AS steps,
  count(DISTINCT p.run_id) AS runs,
  avg(p.prec) AS precision,
  avg(p.rec) AS recall,
  avg(p.f1) AS f1,
  avg(p.ratio) AS "ratio identified",
  avg(o.oracle_ratio) AS "ratio oracle",
  avg(p.distinct_sg) AS "distinct SGs"
FROM per_step p
CROSS JOIN width w
JOIN labelled l USING (run_id)
LEFT JOIN oracle o USING (run_id, step)
GROUP BY l.method, p.step // w.w, w.w
ORDER BY l.method, p.step // w.w;

WITH toks AS (
  SELECT token, planning, oracle_planning
  FROM tokens
  WHERE token <> '<pad>' AND planning IS NOT NULL AND oracle_planning IS NOT NULL
),
per_token AS (
  SELECT token,
    count(*) AS total,
    count(*) FILTER (WHERE planning AND NOT oracle_planning) AS fp,
    count(*) FILTER (WHERE oracle_planning AND NOT planning) AS fn
  FROM toks
  GROUP BY token
),
ranked AS (
  SELECT 'marked planning, oracle execution' AS error, token, fp AS count, total,
    row_number() OVER (ORDER BY fp DESC, token) AS rank
  FROM per_token WHERE fp > 0
  UNION ALL
  SELECT 'oracle planning, not marked', token, fn, total,
    row_number() OVER (ORDER BY fn DESC, token)
  FROM per_token WHERE fn > 0
)
SELECT error, rank, token, count, total, round(count / total, 3) AS share
FROM ranked
WHERE rank <= 10
ORDER BY error, rank;
