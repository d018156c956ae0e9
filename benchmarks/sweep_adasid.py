"""AdaSID sensitivity: one knob at a time around the defaults (η, f_max, the PAR window), plus the
ablations, on one data set with the same seed and step budget.

    python benchmarks/sweep_adasid.py [--dataset scientific] [--steps 1000] [--seed 0]

Appends one JSON line per run to benchmarks/out/adasid_sweep.jsonl and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sidkit.data import load_dataset
from sidkit.workflow import fit_method, prepare

SETTINGS = {
    "defaults": {},
    "η 0.7→0.95": {"objective_params": {"adaptive_overlap": {"eta_low": 0.7, "eta_high": 0.95}}},
    "η 0.9→0.999": {"objective_params": {"adaptive_overlap": {"eta_low": 0.9, "eta_high": 0.999}}},
    "f_max 1": {"objective_params": {"adaptive_overlap": {"f_max": 1.0}}},
    "f_max 4": {"objective_params": {"adaptive_overlap": {"f_max": 4.0}}},
    "PAR 0→0.3": {"par_start": 0.0, "par_end": 0.3},
    "PAR 0.3→0.9": {"par_start": 0.3, "par_end": 0.9},
    "--no-sear": {"sear": False},
    "--no-las": {"las": False},
    "--no-par": {"par": False},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="scientific")
    p.add_argument("--data-dir")
    p.add_argument("--template")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", help="comma-separated subset of the settings")
    args = p.parse_args()
    prep = prepare(load_dataset(args.dataset, args.data_dir, template=args.template), seed=args.seed)
    out = Path("benchmarks/out/adasid_sweep.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(SETTINGS)
    print("| setting | collision | SID entropy | min / mean perplexity | mean top-1 load | agreement @1 | fit s |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        r = fit_method(prep, "adasid", seed=args.seed, steps=args.steps, fit_options={"progress": False},
                       **SETTINGS[name])
        q = r.quality
        row = {"dataset": args.dataset, "setting": name, "steps": args.steps, "seed": args.seed,
               "fit_s": round(r.seconds, 1), **{k: q[k] for k in ("collision_rate", "sid_entropy", "sid_entropy_max",
                                                                 "perplexity", "utilization", "top1_load")},
               "agree": q["collab_prefix_agreement"]}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        ppl = q["perplexity"]
        print(f"| {name} | {q['collision_rate']:.2%} | {q['sid_entropy']:.3f} | {min(ppl):.0f} / {sum(ppl) / len(ppl):.0f} "
              f"| {sum(q['top1_load']) / len(q['top1_load']):.2%} | {q['collab_prefix_agreement'][0]:.2%} "
              f"| {r.seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
