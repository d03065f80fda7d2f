"""TRL shim: a GRPOTrainer whose loss accepts per-token (B, T) advantages.

TRL's GRPOTrainer broadcasts a (B,) advantage over the completion tokens. This subclass lets
`inputs["advantages"]` be (B, T) as well, e.g. HICRA advantages read from the lab's file:

    from hicra_trl import HicraGRPOTrainer, load_batch_advantages
    trainer = HicraGRPOTrainer(model=..., reward_funcs=..., args=GRPOConfig(...))

and, where the batch is built (_generate_and_score_completions), replace
inputs["advantages"] with load_batch_advantages(path, step, rows, completion_ids) as a tensor.
The loss is TRL's clipped surrogate (DAPO token-mean aggregation), no KL term.
"""
from hicra_advantages import advantages_for, load_advantages


def load_batch_advantages(path, step, rows, completion_ids):
    """(B, T) list of per-token advantages for batch rows of a step (see hicra_advantages)."""
    return advantages_for(load_advantages(path), step, rows, completion_ids)


def _trainer_base():
    from trl import GRPOTrainer
    return GRPOTrainer


def HicraGRPOTrainer(*args, **kwargs):  # noqa: N802 (a class factory)
    import torch

    class _Trainer(_trainer_base()):
        def _compute_loss(self, model, inputs):
            ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
            attn = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
            t = inputs["completion_ids"].size(1)
            logps = self._get_per_token_logps_and_entropies(model, ids, attn, t)[0]
            mask = inputs["completion_mask"]
            adv = inputs["advantages"]
            if adv.dim() == 1:
                adv = adv.unsqueeze(1)                 # (B,) -> (B, 1): TRL's broadcast
            old = inputs.get("old_per_token_logps")
            old = logps.detach() if old is None else old
            ratio = torch.exp(logps - old)
            lo, hi = self.epsilon_low, self.epsilon_high
            per_token = -torch.min(ratio * adv, torch.clamp(ratio, 1 - lo, 1 + hi) * adv)
            return (per_token * mask).sum() / mask.sum().clamp(min=1.0)

    return _Trainer(*args, **kwargs)
