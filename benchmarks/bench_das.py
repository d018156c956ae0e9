"""DAS: code usage of the item and user codebooks (scientific, ml-100k), and DAS SIDs as ranking features
on ml-100k with the ablation of each alignment view and of the debias (the DAS paper's Table 1 shape).

    python benchmarks/bench_das.py --parts usage [--steps 3000]
    python benchmarks/bench_das.py --parts ranking --seeds 2 --ablation-seeds 1 --steps 1000
    python benchmarks/bench_das.py --tables        # the Markdown tables of BENCHMARKS.md from the records

Appends one JSON record per run to benchmarks/out/das.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sidkit.content.text_encoder import TextEncoder
from sidkit.content.user_embeddings import resolve_source
from sidkit.data import load_dataset
from sidkit.downstream.ranking.report import json_safe
from sidkit.downstream.ranking.run import evaluate_ranking
from sidkit.objectives.multiview_alignment import VIEWS
from sidkit.workflow import fit_method, prepare

OUT = Path("benchmarks/out/das.jsonl")
SHOWN = ("collision_rate", "utilization", "perplexity", "sid_entropy", "top1_load")


def record(rec: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(json_safe(rec)) + "\n")


def usage(args: argparse.Namespace, encoder: TextEncoder) -> None:
    """DAS and plain RQ-VAE (items only, the same steps) on each data set; the quality of both tables."""
    for name, data_dir, k in (("scientific", None, 256), ("ml-100k", args.ml_dir, args.ml_codebook)):
        ds = load_dataset(name, data_dir)
        prep = prepare(ds, encoder, need_pairs=False, need_users=True)
        for method in ("das", "rqvae"):
            t = time.perf_counter()
            r = fit_method(prep, method, codebook_size=k, steps=args.steps, seed=0, fit_options={"progress": False})
            rec = {"part": "usage", "dataset": name, "method": method, "codebook_size": k, "steps": args.steps,
                   "fit_seconds": round(time.perf_counter() - t, 1),
                   "items": {q: r.quality[q] for q in SHOWN},
                   "users": {q: r.user_quality[q] for q in SHOWN} if r.user_quality else None,
                   "user_content": resolve_source("auto", ds)}
            record(rec)
            print(json.dumps(json_safe(rec)), flush=True)


def ranking(args: argparse.Namespace, encoder: TextEncoder) -> None:
    ds = load_dataset("ml-100k", args.ml_dir)
    full = list(range(args.seeds))
    ablation = list(range(args.ablation_seeds))
    configs = [("full", {}, ["baseline", "rq", "user", "rq+user"], full)]
    configs += [(f"w/o {v}", {"views": [w for w in VIEWS if w != v]}, ["rq+user"], ablation) for v in VIEWS]
    configs += [("w/o debias", {"debias": False}, ["rq+user"], ablation),
                ("no alignment", {"views": []}, ["rq+user"], ablation)]
    for label, params, variants, seeds in configs:
        t = time.perf_counter()
        result = evaluate_ranking(ds, encoder, variants, seeds=seeds, epochs=args.epochs, codes="das",
                                  codebook_size=args.ml_codebook, code_params={"steps": args.steps, **params},
                                  progress=True)
        slim = {v: {k: x for k, x in r.items() if k not in ("per_seed", "groups")} for v, r in result.items()}
        record({"part": "ranking", "config": label, "params": params, "seeds": seeds, "steps": args.steps,
                "codebook_size": args.ml_codebook, "epochs": args.epochs,
                "seconds": round(time.perf_counter() - t, 1), "result": slim})
        print(f"{label}: " + ", ".join(f"{v} ctr auc {r['ctr']['auc']:.4f}" for v, r in result.items()), flush=True)


def pm(m: dict, key: str) -> str:
    v, sd = m.get(key), m.get(f"{key}_std")
    return "n/a" if v is None else f"{v:.4f} ± {sd:.4f}" if sd is not None else f"{v:.4f}"


def tables() -> None:
    recs = [json.loads(line) for line in OUT.open()]
    print("| data set | method | K | steps | table | collision rate | utilization per level | perplexity per level | fit s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in (r for r in recs if r["part"] == "usage"):
        for side in ("items", "users"):
            q = r[side]
            if q is None:
                continue
            print(f"| {r['dataset']} | {r['method']} | {r['codebook_size']} | {r['steps']} | {side} | "
                  f"{q['collision_rate']:.2%} | {' / '.join(f'{u:.2f}' for u in q['utilization'])} | "
                  f"{' / '.join(f'{p:.0f}' for p in q['perplexity'])} | {r['fit_seconds']} |")
    print()
    print("| DAS config | features | ctr AUC | ctr UAUC | ctr GAUC | ctcvr AUC | cold-start ctr AUC |")
    print("|---|---|---|---|---|---|---|")
    for r in (r for r in recs if r["part"] == "ranking"):
        for variant, m in r["result"].items():
            print(f"| {r['config']} | {variant} | {pm(m['ctr'], 'auc')} | {pm(m['ctr'], 'uauc')} | "
                  f"{pm(m['ctr'], 'gauc')} | {pm(m['ctcvr'], 'auc')} | {pm(m['cold_start']['ctr'], 'auc')} |")


def main() -> None:
    if "--tables" in sys.argv:
        return tables()
    ap = argparse.ArgumentParser()
    ap.add_argument("--ml-dir", default="../shared/datasets/ml-100k")
    ap.add_argument("--parts", default="usage,ranking")
    ap.add_argument("--seeds", type=int, default=2, help="seeds of the full DAS configuration")
    ap.add_argument("--ablation-seeds", type=int, default=1, help="seeds of each ablation")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--ml-codebook", type=int, default=64, help="codebook size on ml-100k (943 users)")
    args = ap.parse_args()
    encoder = TextEncoder(show_progress=False)
    for part in args.parts.split(","):
        {"usage": usage, "ranking": ranking}[part](args, encoder)


if __name__ == "__main__":
    main()
