"""QARM ranking on ml-100k (or Beauty): the variant table (QARM Tables 1 and 5 shape), the VQ code length K
and the embedding dimension d sweeps (Table 2), the ID-free mode, the SID feature parameterisations, CF
input, and the fine-tuned text encoder, each over seeds.

    python benchmarks/bench_ranking.py --data-dir ../shared/datasets/ml-100k [--seeds 3] \
        [--parts main,k,d,idfree,features,cf,finetune]
    python benchmarks/bench_ranking.py --data beauty --data-dir ../shared/datasets/beauty --parts features
    python benchmarks/bench_ranking.py --tables      # the Markdown tables of BENCHMARKS.md from the records

Appends one JSON record per part to benchmarks/out/ranking.jsonl and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sidkit.content.text_encoder import TextEncoder
from sidkit.data import load_dataset
from sidkit.downstream.ranking.report import json_safe, ranking_table
from sidkit.downstream.ranking.run import evaluate_ranking


def record(part: str, config: dict, result: dict, seconds: float) -> None:
    out = Path("benchmarks/out")
    out.mkdir(parents=True, exist_ok=True)
    # per-seed figures kept: paired differences between records are computed from them
    with (out / "ranking.jsonl").open("a") as f:
        f.write(json.dumps(json_safe({"part": part, **config, "seconds": round(seconds, 1), "result": result})) + "\n")


def pm(m: dict, key: str = "auc") -> str:
    v, sd = m.get(key), m.get(f"{key}_std")
    return "n/a" if v is None else f"{v:.4f} ± {sd:.4f}" if sd is not None else f"{v:.4f}"


def tables() -> None:
    """Groups and cold start of the main part, the K and d sweeps (ctr), the ID-free runs."""
    recs = [json.loads(line) for line in open("benchmarks/out/ranking.jsonl")]
    for rec in recs:
        res = rec["result"]
        if rec["part"] == "features" and "settings" in rec:  # one record, the settings over shared codes
            print(f"\n{rec.get('data', 'ml-100k')}, seeds {rec['seeds']}, {rec['seconds']:.0f} s")
            for key, r in res.items():
                groups = [pm(g["ctr"]) for g in r["groups"].values()]
                print(f"| {key} | {pm(r['ctr'])} | {pm(r['ctr'], 'uauc')} | {pm(r['ctr'], 'gauc')} | "
                      + "".join(f"{g} | " for g in groups) + f"{pm(r['cold_start']['ctr'])} |")
            continue
        if rec["part"] == "main":
            groups = next(iter(res.values()))["groups"]
            head = [f"{g} ({v['train_clicks'][0]}-{v['train_clicks'][1]} clicks)" for g, v in groups.items()]
            print("| ctr AUC | " + " | ".join(head) + " | cold start AUC | cold start UAUC | cold start GAUC |")
            print("|" + "---|" * (len(head) + 4))
            for variant, r in res.items():
                cells = [pm(r["groups"][g]["ctr"]) for g in groups]
                cold = [pm(r["cold_start"]["ctr"], k) for k in ("auc", "uauc", "gauc")]
                print(f"| {variant} | " + " | ".join(cells + cold) + " |")
            print()
        else:
            knob = {"k": "vq_k", "d": "dim"}.get(rec["part"])
            label = (f"{knob}={rec.get(knob)}" if knob else "id-free" if rec["part"] == "idfree"
                     else "fine-tuned encoder" if rec.get("finetune") else "frozen encoder" if rec["part"] == "finetune"
                     else f"{rec['sid_features']['scheme']}{'' if rec.get('item_ids', True) else ', id-free'}"
                     if rec["part"] == "features"
                     else f"cf input {rec['cf_input']['kind']}:{rec['cf_input']['weight']}" if rec.get("cf_input")
                     else "content only")
            for variant, r in res.items():
                groups = ([pm(g["ctr"]) for g in r["groups"].values()]
                          if rec["part"] in ("features", "cf", "finetune") else [])
                print(f"| {label} | {variant} | {pm(r['ctr'])} | {pm(r['ctr'], 'uauc')} | {pm(r['ctr'], 'gauc')} | "
                      + "".join(f"{g} | " for g in groups) + f"{pm(r['cold_start']['ctr'])} |")


def main() -> None:
    if "--tables" in sys.argv:
        return tables()
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=("ml-100k", "beauty"), default="ml-100k")
    ap.add_argument("--data-dir", default="../shared/datasets/ml-100k")
    ap.add_argument("--finetune-max-pairs", type=int, default=12000,
                    help="pairs sampled for the fine-tune of the finetune part (all every-layer, 1 epoch)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--parts", default="main,k,d,idfree")
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    ds = load_dataset(args.data, args.data_dir)
    encoder = TextEncoder(show_progress=False)
    seeds = list(range(args.seeds))
    common = dict(seeds=seeds, epochs=args.epochs)
    runs = {
        "main": [({"variants": ["baseline", "ia-rep", "vq", "rq", "vq+rq"]}, {})],
        "k": [({"variants": ["vq"], "vq_k": k}, {"vq_k": k}) for k in (5, 10, 15, 20, 25)],
        "d": [({"variants": ["baseline", "vq+rq"], "dim": d}, {"dim": d}) for d in (16, 32, 64)],
        "idfree": [({"variants": ["ia-rep", "vq", "rq", "vq+rq"]}, {"item_ids": False})],
        # SID feature parameterisation: a table per level vs hashed prefixes vs hashed uni+bigrams, with and
        # without item IDs: six rankers over one QARM fit per seed
        "features": [({"variants": ["vq+rq"]}, {"settings": {
            f"{scheme}{'' if ids else ', id-free'}": {"item_ids": ids, "sid_features": {"scheme": scheme,
                                                                                         "table_size": 20000}}
            for ids in (True, False) for scheme in ("per-level", "prefix-ngram", "ngram")}})],
        # QARM on the frozen MiniLM (its alignment head only) vs on MiniLM fine-tuned on each seed's training
        # pairs (--finetune-encoder); with and without item IDs over the same codes
        "finetune": [({"variants": ["ia-rep", "vq+rq"]}, {**ft, "settings": {"ids": {}, "id-free": {"item_ids": False}}})
                     for ft in ({}, {"finetune": {"max_pairs": args.finetune_max_pairs}})],
        # QARM's codes from content alone vs content fused with co-click factors (--cf-input cooc, 0.2)
        "cf": [({"variants": ["rq", "vq+rq"]}, {}),
               ({"variants": ["rq", "vq+rq"]}, {"cf_input": {"kind": "cooc", "weight": 0.2}})],
    }
    for part in args.parts.split(","):
        for config, kwargs in runs[part]:
            t = time.perf_counter()
            result = evaluate_ranking(ds, encoder, config["variants"], **common, **kwargs, progress=True)
            seconds = time.perf_counter() - t
            record(part, {**config, **kwargs, "data": args.data, "seeds": seeds, "epochs": args.epochs}, result,
                   seconds)
            print(f"\n## {part} {kwargs} ({seconds:.0f}s)\n\n{ranking_table(result)}\n", flush=True)


if __name__ == "__main__":
    main()
