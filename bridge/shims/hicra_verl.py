"""verl shim: HICRA per-token advantages from the lab's file instead of verl's estimator.

Use in a fork of verl's ray_trainer.py, where compute_advantage(data, adv_estimator, ...) is
called once per step (verl >= 0.4 names the tensors used here):

    from hicra_verl import HicraAdvantages
    hicra = HicraAdvantages("advantages.jsonl")   # written by `deno task run` (real-credit)
    ...
    data = hicra.compute_advantage(data, step=self.global_steps - 1)

Batch item i is dump row i of that step (verl writes rollout_data_dir/<step>.jsonl in batch
order), so the file must come from rollouts of this very run, e.g. a replay or an offline
update; token ids are checked item by item.
"""
from hicra_advantages import advantages_for, load_advantages


class HicraAdvantages:
    def __init__(self, path):
        self.table = load_advantages(path)

    def compute_advantage(self, data, step):
        """Sets data.batch["advantages"] and ["returns"] (B, T) from the file."""
        import torch  # only the trainer side needs torch

        responses = data.batch["responses"]          # (B, T) response token ids, right-padded
        mask = data.batch["response_mask"]           # (B, T) 1 on response tokens
        ids = [responses[i][mask[i].bool()].tolist() for i in range(responses.shape[0])]
        adv = advantages_for(self.table, step, list(range(len(ids))), ids)
        full = torch.zeros_like(mask, dtype=torch.float32)
        for i, a in enumerate(adv):
            full[i, : len(ids[i])] = torch.tensor(a[: len(ids[i])])
        data.batch["advantages"] = full * mask
        data.batch["returns"] = data.batch["advantages"]
        return data
