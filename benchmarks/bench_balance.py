"""Balanced residual k-means (``rq-kmeans --balance``) against plain ``rq-kmeans`` on the same embeddings,
same run, several seeds: collisions, per-level perplexity, level-1 use, agreement @1..3, reconstruction
MSE, neighbour preservation @10, fit time (the two fits alternate, so neither gets the warm cache).

    python benchmarks/bench_balance.py [--seeds 3] [--beauty-dir ../shared/datasets/beauty]
    python benchmarks/bench_balance.py --rqvae [--steps 3000] [--data scientific]

``--rqvae``: one RQ-VAE trained per seed, its codes taken plain, then with the last level balanced after
training (``balance_levels=1``, LC-Rec's uniform last level), then with every level balanced: the same
network, so the rows differ by the balancing alone (its seconds are reported, not the training's).

Appends one JSON record per (data, variant, seed) to benchmarks/out/balance.jsonl and prints a table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sidkit.content import TextEncoder
from sidkit.data import load_dataset
from sidkit.methods import RQVAE, RQKMeans
from sidkit.methods.rqvae import balance_after_training
from sidkit.sids.quality import collab_prefix_agreement, neighbour_preservation, sid_quality
from sidkit.workflow import prepare

VARIANTS = {"rq-kmeans": {}, "rq-kmeans --balance": {"balance": True}}


def figures(prep, tok, codes: np.ndarray, seconds: float) -> dict:
    x = prep.embeddings
    q = sid_quality(codes, tok.codebook_sizes)
    return {"seconds": seconds, "collision_rate": q["collision_rate"], "perplexity": q["perplexity"],
            "utilization_l1": q["utilization"][0], "agreement": collab_prefix_agreement(codes, *prep.held_out),
            "mse": tok.reconstruction_mse(x, codes), "neighbours@10": neighbour_preservation(x, codes)}


def measure(prep, params: dict, seed: int) -> dict:
    tok = RQKMeans(seed=seed, **params)
    t = time.perf_counter()
    tok.fit(prep.embeddings)
    return figures(prep, tok, tok.labels_, time.perf_counter() - t)


def rqvae_rows(prep, seed: int, steps: int) -> dict[str, dict]:
    x = prep.embeddings
    t = time.perf_counter()
    tok = RQVAE(seed=seed, steps=steps).fit(x, progress=False)
    out = {"rqvae": figures(prep, tok, tok.labels_, time.perf_counter() - t)}
    for n, name in ((1, "rqvae balance_levels=1"), (3, "rqvae balance_levels=3")):
        t = time.perf_counter()
        balance_after_training(tok.net_, x, n, 0.05)
        out[name] = figures(prep, tok, tok.encode(x), time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--beauty-dir", default=str(Path(__file__).resolve().parents[2] / "shared/datasets/beauty"))
    ap.add_argument("--out", default="benchmarks/out/balance.jsonl")
    ap.add_argument("--rqvae", action="store_true", help="RQ-VAE balanced after training instead of rq-kmeans")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--data", default="beauty titles,scientific")
    args = ap.parse_args()
    encoder = TextEncoder(show_progress=False)
    loaders = {"beauty titles": lambda: load_dataset("beauty", args.beauty_dir),
               "scientific": lambda: load_dataset("scientific")}
    data = {name: loaders[name]() for name in args.data.split(",")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    rows: dict[tuple[str, str], list[dict]] = {}
    for name, ds in data.items():
        prep = prepare(ds, encoder, need_pairs=False)
        for seed in range(args.seeds):
            if args.rqvae:
                measured = rqvae_rows(prep, seed, args.steps)
            else:
                order = list(VARIANTS) if seed % 2 == 0 else list(VARIANTS)[::-1]
                measured = {variant: measure(prep, VARIANTS[variant], seed) for variant in order}
            for variant, figs in measured.items():
                rec = {"data": name, "variant": variant, "seed": seed, **figs}
                rows.setdefault((name, variant), []).append(rec)
                with open(args.out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
    print("| data | variant | collisions | perplexity l1/l2/l3 | level-1 use | agreement @1/@2/@3 | MSE | "
          "neighbours@10 l1/l2/l3 | fit s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (name, variant), recs in rows.items():
        def ms(key, idx=None, scale=1.0, digits=1):
            v = np.array([r[key] if idx is None else r[key][idx] for r in recs], dtype=float) * scale
            return f"{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0:.{digits}f}"
        print(f"| {name} | {variant} | {ms('collision_rate', scale=100)}% | "
              + " / ".join(f"{np.mean([r['perplexity'][i] for r in recs]):.0f}" for i in range(3))
              + f" | {ms('utilization_l1', scale=100)}% | "
              + " / ".join(ms('agreement', i, 100, 2) for i in range(3))
              + f" | {ms('mse', scale=1e4, digits=2)}e-4 | "
              + " / ".join(f"{np.mean([r['neighbours@10'][i] for r in recs]):.3f}" for i in range(3))
              + f" | {ms('seconds', digits=2)} |")
    for name in data if not args.rqvae else []:
        plain, even = rows[(name, "rq-kmeans")], rows[(name, "rq-kmeans --balance")]
        ratio = [b["seconds"] / a["seconds"] for a, b in zip(plain, even)]
        diff = [100 * (b["collision_rate"] - a["collision_rate"]) for a, b in zip(plain, even)]
        print(f"{name}: fit time ratio {np.mean(ratio):.2f} (per seed {', '.join(f'{r:.2f}' for r in ratio)}); "
              f"collision change per seed {', '.join(f'{d:+.1f}' for d in diff)} points")


if __name__ == "__main__":
    main()
