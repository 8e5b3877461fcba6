"""Ship a trained model: a slim checkpoint (no optimizer or RNG state) and its measured numbers.

``export_model`` writes ``NAME.pt`` plus an entry in ``models.json`` beside it: parameter count,
training steps, validation NLL per token and per note, dataset fingerprint, and the run's
training log, so the numbers quoted for a shipped model come with the model.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from musicgate.nn.checkpoint import _read, load_checkpoint, save_checkpoint
from musicgate.files import atomic_write_json


@torch.no_grad()
def nll_per_note(model, tokenizer, tunes: list[np.ndarray], *, batch_size: int = 64, plan: str | None = None) -> dict:
    """Validation negative log-likelihood of whole tunes: nats per token and per note.

    Every token after BOS is predicted from everything before it (the model reads whole tunes,
    so this is the model's own likelihood of the music, key token included). ``plan="tune"``: a
    model with form inputs is told each tune's number of bar lines (default: no plan).
    """
    model.eval()
    starts = tokenizer.note_starts()
    total, n_tokens, n_notes = 0.0, 0, 0
    order = np.argsort([len(t) for t in tunes])
    for start in range(0, len(order), batch_size):
        batch = [tunes[i].astype(np.int64) for i in order[start:start + batch_size]]
        lengths = torch.tensor([len(t) - 1 for t in batch])
        width = int(lengths.max())
        x = torch.full((len(batch), width), tokenizer.pad_id, dtype=torch.long)
        y = torch.full((len(batch), width), -100, dtype=torch.long)
        for row, t in enumerate(batch):
            x[row, :len(t) - 1] = torch.from_numpy(t[:-1])
            y[row, :len(t) - 1] = torch.from_numpy(t[1:])
            n_notes += int(np.sum(starts[t]))
        logits, _ = model(x, lengths=lengths, **({"plan": plan} if plan else {}))
        total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                         ignore_index=-100, reduction="sum"))
        n_tokens += int(lengths.sum())
    return {"nll_per_token": total / max(n_tokens, 1), "nll_per_note": total / max(n_notes, 1),
            "tokens": n_tokens, "notes": n_notes}


def export_model(run: "str | os.PathLike", dest_dir: "str | os.PathLike", name: str, *,
                 data=None, max_tunes: int | None = None) -> dict:
    """Write ``dest_dir/NAME.pt`` (the run's best checkpoint, slimmed) and its ``models.json`` entry.

    ``data`` is the PreparedData whose validation split measures the NLL (default: the dataset the
    run was trained on, loaded by name).
    """
    from musicgate.data.corpora import load_prepared
    from musicgate.nn.models import count_params

    from musicgate.files import check_name, check_writable_dir
    from musicgate.nn.hub import resolve_checkpoint

    check_name(name, what="model name")
    dest_dir = check_writable_dir(dest_dir)
    src = resolve_checkpoint(Path(run))
    run = src.parent
    payload = _read(src, "cpu")
    payload["trainer"] = {}
    ckpt = load_checkpoint(src)  # everything is checked and measured before anything is written
    model = ckpt.build_model("cpu")
    data = data if data is not None else load_prepared(ckpt.dataset.get("name") or "folk")
    valid = [data.tune(int(i)) for i in data.splits["valid"][:max_tunes]]
    from musicgate.train.loop import corpus_counts  # what generation reads, for checkpoints from before it

    payload["dataset"] = {**corpus_counts(data, model, ckpt.tokenizer), **(payload.get("dataset") or {})}
    scores = nll_per_note(model, ckpt.tokenizer, valid)
    planned = nll_per_note(model, ckpt.tokenizer, valid, plan="tune") if model.has_form_inputs else None
    dest = save_checkpoint(payload, dest_dir / f"{name}.pt")
    logs = dest_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for fname in ("metrics.csv", "config.yaml", "loss.png"):
        if (run / fname).is_file():
            shutil.copyfile(run / fname, logs / f"{name}.{fname}")
    entry = {"name": name, "cell": ckpt.cell, "params": count_params(model), "hidden": ckpt.model_args.get("hidden"),
             "layers": ckpt.model_args.get("layers"), "step": ckpt.step, "best_val_loss": ckpt.best_val_loss,
             "valid_nll_per_token": round(scores["nll_per_token"], 4), "valid_nll_per_note": round(scores["nll_per_note"], 4),
             "valid_tunes": len(valid), "bytes": dest.stat().st_size,
             "dataset": {k: v for k, v in payload["dataset"].items() if k not in ("bar_lines", "bar_lines_by_meter")},  # the plans: in the .pt
             "config": f"configs/{run.name}.yaml",  # the shipped runs are named as their configs
             **({"form_inputs": ckpt.model_args["form_inputs"],  # the NLL above without a plan; with each
                 "valid_nll_per_note_planned": round(planned["nll_per_note"], 4)}  # tune's bar lines as plan
                if planned else {}),
             **({"lookback": ckpt.model_args["lookback"]} if ckpt.model_args.get("lookback") else {})}
    index_path = dest_dir / "models.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    index[name] = entry
    atomic_write_json(index_path, dict(sorted(index.items())))
    return entry
