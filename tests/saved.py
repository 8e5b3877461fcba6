"""Test helper: a model saved as a checkpoint file that ``load_model`` and ``model.start_from`` read."""
from __future__ import annotations

from pathlib import Path


def saved(model, tokenizer, path: Path) -> Path:
    """``model`` (a RecurrentLM) and ``tokenizer`` written to ``path`` as a step-0 checkpoint."""
    from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint

    payload = make_checkpoint(model=model, config={"model": {"cell": model.cell}}, tokenizer=tokenizer,
                              dataset={"name": "test"}, step=0, best_val_loss=None)
    return save_checkpoint(payload, path)
