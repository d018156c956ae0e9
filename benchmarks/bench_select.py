"""``--select collisions`` on the RQ-VAE family: the collision rate of the last step against the kept
step, same run (the selection encodes the catalogue every ``--every`` steps, so one training gives both).

    python benchmarks/bench_select.py [--methods rqvae,quasid] [--seeds 3] [--steps 3000] [--every 250] [--start 0]

Scientific, the demo's full template, 3 × 256 codes. Prints one row per (method, seed) and the means.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from sidkit.content import TextEncoder
from sidkit.data import load_dataset
from sidkit.methods import method_class
from sidkit.sids.quality import collab_prefix_agreement
from sidkit.workflow import fit_tokenizer, prepare


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="rqvae,quasid")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--start", type=int, default=0, help="first step that may be kept (warm-up)")
    args = ap.parse_args()
    prep = prepare(load_dataset("scientific"), TextEncoder(show_progress=False), seed=0)
    rows = []
    for method in args.methods.split(","):
        for seed in range(args.seeds):
            tok = method_class(method)(seed=seed, steps=args.steps, select="collisions", select_every=args.every,
                                            select_from=args.start)
            t = time.perf_counter()
            fit_tokenizer(tok, prep.embeddings, pairs=prep.pairs, progress=False)
            history = tok.selection_history_
            row = {"method": method, "seed": seed, "last": history[-1][1], "selected": min(r for _, r in history),
                   "selected_step": tok.selected_step_, "history": history, "seconds": time.perf_counter() - t,
                   "agreement_selected": collab_prefix_agreement(tok.labels_, *prep.held_out)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| method | seeds | collisions, last step | collisions, selected step | selected steps | agreement @1 / @2 / @3 (selected) |")
    print("|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        rs = [r for r in rows if r["method"] == method]
        ms = lambda key: f"{100 * np.mean([r[key] for r in rs]):.2f} ± {100 * np.std([r[key] for r in rs]):.2f}%"  # noqa: E731
        agree = " / ".join(f"{100 * np.mean([r['agreement_selected'][lvl] for r in rs]):.2f}" for lvl in range(3))
        print(f"| {method} | {len(rs)} | {ms('last')} | {ms('selected')} | "
              f"{', '.join(str(r['selected_step']) for r in rs)} | {agree} |")


if __name__ == "__main__":
    main()
