"""Collision handling, before and after: disambiguation level vs re-assignment (sids.collisions).

    python benchmarks/bench_collisions.py --dataset scientific --methods rq-kmeans,rqvae
    python benchmarks/bench_collisions.py --dataset beauty --data-dir ../shared/datasets/beauty --template '{title}'

Two settings, same seed:
- fit time: every item of the catalogue, re-assigned with k = 4 / 16 / 64 candidates, capacity 1, greedily
  (``reassign``) and by one min-cost matching per prefix group (``reassign-optimal``);
- assign time: fit on the first 90% of the catalogue, then `assign` the last 10% as new items.
Reported: collision rate, largest bucket, SID entropy, the held-out collab prefix agreement, and the
quantisation error of the assigned codes relative to the encoder's choice (what re-assignment costs).
Appends a JSON record per method to benchmarks/out/collisions.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sidkit.data import load_dataset
from sidkit.data.types import Catalog
from sidkit.sid_store import SIDStore
from sidkit.sids.collisions import reassign, reassign_optimal
from sidkit.sids.quality import collab_prefix_agreement, sid_quality
from sidkit.workflow import Prepared, fit_method, fit_to_dir, prepare

SHOWN = ("collision_rate", "max_bucket", "sid_entropy")


def distortion(tok, x: np.ndarray, codes: np.ndarray) -> float:
    """Mean squared distance between what the codes decode to and the vector they quantise."""
    if hasattr(tok, "net_"):
        import torch

        with torch.no_grad():
            z = tok.net_.encoder(torch.from_numpy(x))
            return float(((tok.net_.quantizer.decode(torch.from_numpy(codes)) - z) ** 2).sum(1).mean())
    space = tok.transform(x) if hasattr(tok, "transform") else x
    return float(((tok.rq_.decode(codes) - space) ** 2).sum(1).mean())


def row(codes: np.ndarray, sizes, prep: Prepared, tok, x: np.ndarray) -> dict:
    q = sid_quality(codes, sizes)
    out = {k: round(q[k], 4) for k in SHOWN}
    out["agreement"] = [round(a, 4) for a in collab_prefix_agreement(codes, *prep.held_out)]
    out["distortion"] = round(distortion(tok, x, codes), 5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="scientific")
    ap.add_argument("--data-dir")
    ap.add_argument("--template", default="{title}")
    ap.add_argument("--methods", default="rq-kmeans,rqvae")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = load_dataset(args.dataset, args.data_dir, template=args.template)
    prep = prepare(ds, seed=args.seed)
    x, n = prep.embeddings, len(prep.embeddings)
    for method in args.methods.split(","):
        result = fit_method(prep, method, seed=args.seed)
        tok = result.tokenizer
        rec = {"dataset": args.dataset, "method": method, "seed": args.seed, "fit_time": {}}
        encoded, cand = tok.candidates(x, 64)
        rec["fit_time"]["disambiguate"] = row(encoded, tok.codebook_sizes, prep, tok, x)
        for k in (4, 16, 64):
            for mode, move in (("reassign", reassign), ("reassign-optimal", reassign_optimal)):
                t = time.perf_counter()
                codes, moves = move(encoded, cand[:, :k], 1)
                rec["fit_time"][f"{mode} k={k}"] = {**row(codes, tok.codebook_sizes, prep, tok, x),
                                                    "moved": moves["moved"], "over_capacity": moves["over_capacity"],
                                                    "mean_rank": round(moves["mean_rank"], 3),
                                                    "seconds": round(time.perf_counter() - t, 3)}
        cut = int(0.9 * n)
        new = Catalog(ds.catalog.item_ids[cut:], embeddings={"embedding": x[cut:]})
        rec["assign_time"] = {"fitted": cut, "new": n - cut}
        with tempfile.TemporaryDirectory() as tmp:
            fitted = fit_to_dir(prep.first(cut), method, Path(tmp) / "fit", seed=args.seed)
            for mode in ("disambiguate", "reassign", "reassign-optimal"):
                folder = Path(tmp) / mode
                shutil.copytree(Path(tmp) / "fit", folder)
                report = SIDStore(folder).assign(new, {"mode": mode, "k": 16})
                codes = np.array([a["codes"] for a in report["items"]])
                rec["assign_time"][mode] = {
                    "collision_rate_after": round(report["quality_after"]["collision_rate"], 4),
                    "new_items_sharing_a_tuple": round(float(np.mean([a["sid"][-1] > 0 for a in report["items"]])), 4),
                    "moved": report["collisions"].get("moved", 0),
                    "distortion_new": round(distortion(fitted.tokenizer, x[cut:], codes), 5),
                    "seconds": report["seconds"]}
        Path("benchmarks/out").mkdir(parents=True, exist_ok=True)
        with open("benchmarks/out/collisions.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec, indent=1))


if __name__ == "__main__":
    main()
