"""Reader of the HICRA lab's advantages file (bridge/FORMAT.md, "Advantages out").

Plain Python (no torch): both trainer shims use it. One JSON object per line:
  {"step": int, "row": int, "group": int, "estimator": str, "reward": float,
   "token_ids": [int], "advantages": [float], "planning": [0|1]}
keyed by (step, row), where row is the rollout's index among that step's rows in the dump.
"""
import json


def load_advantages(path):
    """(step, row) -> {"token_ids", "advantages", "planning", ...}; checks the contract."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{path}:{n}: not valid JSON ({e})") from None
            for key in ("step", "row", "token_ids", "advantages", "planning"):
                if key not in rec:
                    raise ValueError(f"{path}:{n}: missing key {key!r}")
            t = len(rec["token_ids"])
            if len(rec["advantages"]) != t or len(rec["planning"]) != t:
                raise ValueError(f"{path}:{n}: token_ids, advantages and planning differ in length")
            k = (rec["step"], rec["row"])
            if k in out:
                raise ValueError(f"{path}:{n}: duplicate (step, row) {k}")
            out[k] = rec
    return out


def advantages_for(table, step, rows, response_ids):
    """Per-token advantages of a batch as a list of lists, padded with 0.0 to the batch width.

    rows: the dump row index of each batch item; response_ids: each item's response ids
    (unpadded). Raises when an item's ids differ from the file's (the file is for another run).
    """
    width = max((len(r) for r in response_ids), default=0)
    out = []
    for i, (row, ids) in enumerate(zip(rows, response_ids)):
        rec = table.get((step, row))
        if rec is None:
            raise KeyError(f"no advantages for step {step}, row {row}")
        if list(ids) != rec["token_ids"]:
            raise ValueError(f"batch item {i} (step {step}, row {row}): token ids differ from the file")
        adv = rec["advantages"]
        out.append(list(adv) + [0.0] * (width - len(adv)))
    return out
