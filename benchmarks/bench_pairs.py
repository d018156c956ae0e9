"""Pair mining cold and cached: each miner's seconds, the whole cold mine, the cached load.

    python benchmarks/bench_pairs.py [--dataset beauty --data-dir ../shared/datasets/beauty]

Mines QARM's default sources (u2i from BPR, Swing) from the leave-one-out training part, as `sidkit fit`
does, into a fresh cache folder, then loads the same pairs again from it; checks the cached pairs equal the
mined ones. Appends a JSON record to benchmarks/out/pairs.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path("benchmarks/out")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="scientific")
    ap.add_argument("--data-dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from sidkit.collab.bpr import BPRMF
    from sidkit.collab.mine import mine_or_load
    from sidkit.collab.swing import swing_pairs
    from sidkit.collab.u2i_triggers import u2i_trigger_pairs
    from sidkit.data import leave_one_out, load_dataset

    ds = load_dataset(args.dataset, args.data_dir)
    train = leave_one_out(ds.interactions).train
    stages = {}
    t = time.perf_counter()
    bpr = BPRMF(seed=args.seed).fit(train)
    stages["bpr"] = time.perf_counter() - t
    t = time.perf_counter()
    u2i_trigger_pairs(train, bpr.item_factors_)
    stages["u2i_triggers"] = time.perf_counter() - t
    t = time.perf_counter()
    swing_pairs(train, seed=args.seed)
    stages["swing"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        cold, hit_cold = mine_or_load(train, ("u2i", "swing"), args.seed, cache)
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        warm, hit_warm = mine_or_load(train, ("u2i", "swing"), args.seed, cache)
        cached_s = time.perf_counter() - t
    assert not hit_cold and hit_warm
    assert all(np.array_equal(getattr(cold, a), getattr(warm, a)) for a in ("trigger", "target", "source"))
    result = {"dataset": args.dataset, "train_interactions": len(train), "users": train.n_users,
              "items": train.n_items, "pairs": len(cold), "stages_s": {k: round(v, 2) for k, v in stages.items()},
              "cold_s": round(cold_s, 2), "cached_s": round(cached_s, 3),
              "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"}
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "pairs.jsonl").open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
