"""Test helper: a model's logits read in one call, then one token at a time with the state carried."""
from __future__ import annotations

import torch


def streamed(model, ids: torch.Tensor, cut: int, **kwargs) -> torch.Tensor:
    """Logits of ``ids`` (B, T) read in one call up to ``cut`` (``kwargs`` go to it), then by ``model.step``."""
    logits, state = model(ids[:, :cut], **kwargs)
    steps = [logits]
    for t in range(cut, ids.shape[1]):
        out, state = model.step(ids[:, t], state)
        steps.append(out[:, None])
    return torch.cat(steps, 1)
