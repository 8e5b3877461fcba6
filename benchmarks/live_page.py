"""Speed of the gallery page's live generator: the JavaScript model in headless Chromium, and the export.

    python benchmarks/live_page.py [--model NAME_OR_PATH ...] [--notes 64] [--tunes 5] [--lookback 1,2,4,8]

Writes the ``live/`` folder (:func:`musicgate.teach.live.write_live`) for the shipped models (or the
given checkpoints) into a temporary folder, timing the export, then opens the page in Debian's
chromium (Playwright) and times ``MusicgateLive.generate`` for ``--tunes`` tunes of ``--notes`` notes
per model. Prints a markdown table: milliseconds per tune and per token, tokens per second, and
the size of each model file. Target: a 64-note tune in well under a second, so Generate feels instant.
With ``--lookback``, each model without lookback inputs is also timed with them (``NAME+look``: its
weights plus lookback tables of those distances, a random projection), to show what they cost.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="checkpoint or shipped name (repeat; default shipped)")
    parser.add_argument("--notes", type=int, default=64, help="notes per tune (default 64, as the page)")
    parser.add_argument("--tunes", type=int, default=5, help="tunes timed per model (default 5)")
    parser.add_argument("--lookback", help="also time each model with lookback inputs of these bar distances (1,2,4,8)")
    parser.add_argument("--chromium", default=os.environ.get("MUSICGATE_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from musicgate.nn.hub import load_model
    from musicgate.teach.gallery import resolve_models
    from musicgate.teach.live import standalone_page, write_live

    specs = resolve_models(args.model)
    loaded = [load_model(s) for s in specs]
    if args.lookback:
        bars = [int(k) for k in args.lookback.split(",")]
        loaded += [with_lookback(*m, bars) for m in loaded if not getattr(m[0], "has_lookback", True)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        page = standalone_page(tmp, write_live(tmp, loaded))
        export = time.perf_counter() - t0
        rows = []
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(profile, executable_path=args.chromium, headless=True,
                                                       args=["--headless", "--no-sandbox", "--disable-gpu"])
            tab = ctx.new_page()
            t1 = time.perf_counter()
            tab.goto(page.as_uri(), wait_until="load")
            tab.wait_for_function("() => window.MusicgateLive && MusicgateLive.state().ready")
            opened = time.perf_counter() - t1
            for (_, _, meta) in loaded:
                name = meta["name"]
                r = tab.evaluate("""([name, n, notes]) => { const out = [];
                    for (let s = 0; s < n; s++) { const t0 = performance.now();
                      const t = MusicgateLive.generate({model: name, key: 'D major', temperature: 1, seed: s,
                                                        maxNotes: notes});
                      out.push([performance.now() - t0, t.ids.length]); }
                    return out; }""", [name, args.tunes, args.notes])
                ms = sum(x[0] for x in r) / len(r)
                tokens = sum(x[1] for x in r) / len(r)
                size = (Path(tmp) / "live" / f"model-{name}.js").stat().st_size / 1e6
                rows.append((name, ms, ms / tokens, 1000 * tokens / ms, size))
            ctx.close()
    print(f"export of {len(loaded)} models and the instrument notes: {export:.1f} s; page opened and models "
          f"loaded in {opened:.1f} s\n")
    print(f"| model | ms per {args.notes}-note tune | ms per token | tokens/s | model file (MB) |")
    print("|---|---:|---:|---:|---:|")
    for name, ms, per, rate, size in rows:
        print(f"| {name} | {ms:.0f} | {per:.2f} | {rate:.0f} | {size:.1f} |")


def with_lookback(model, tok, meta: dict, bars: list[int]) -> tuple:
    """``model`` with lookback inputs of distances ``bars`` added (random projection: for timing only)."""
    import torch

    from musicgate.nn.models import RecurrentLM

    torch.manual_seed(0)
    look = RecurrentLM(**{**model.model_args, "lookback": bars, "lookback_clock": tok.lookback_clock()})
    look.load_state_dict(model.state_dict(), strict=False)
    with torch.no_grad():
        look.look.proj.weight.normal_(0, 0.02)
    return look.eval(), tok, {**meta, "name": f"{meta['name']}+look"}


if __name__ == "__main__":
    main()
