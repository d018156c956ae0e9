"""Method vs baseline: QARM against rq-kmeans on the same embeddings, over several seeds, and what limits it.

Variants (``--variants``, comma-separated):
- ``rq-kmeans``, ``qarm``: on the frozen encoder's embeddings (QARM trains its alignment head).
- ``ft:rq-kmeans``, ``ft:qarm``: the same after ``--finetune-encoder`` (the text model itself fine-tuned
  on the mined pairs, then the catalogue embedded again); one fine-tune per seed serves both.
Extra QARM parameters: ``qarm:drop_duplicates=0.95``.

``--ceiling`` adds what the clicks can tell at all (seed-free): the share of held-out transitions that are
mined pairs or co-clicked in training, and level-1 codes made straight from a click graph by a greedy
size-capped partition (256 groups): of the training transitions (what a method that learnt the training
clicks perfectly could reach this way) and of the held-out transitions themselves (an oracle).

    python benchmarks/bench_alignment.py [--dataset scientific] [--data-dir DIR] [--seeds 3]
        [--variants rq-kmeans,qarm,ft:rq-kmeans,ft:qarm] [--finetune-max-pairs N] [--ceiling]

Rows are appended to ``--out`` (jsonl) and skipped when already there, so a long run can go in parts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sidkit.cli_flags import param_value
from sidkit.data import load_dataset
from sidkit.sids.quality import collab_prefix_agreement
from sidkit.workflow import fit_method, prepare

KEYS = ["collision_rate", "sid_entropy", "perplexity_min", "perplexity_mean"]


def parse_variant(spec: str) -> tuple[bool, str, dict]:
    """'ft:qarm:drop_duplicates=0.95' → (fine-tuned, 'qarm', {'drop_duplicates': 0.95})."""
    finetuned = spec.startswith("ft:")
    method, *params = (spec[3:] if finetuned else spec).split(":")
    return finetuned, method, {k: param_value(v) for k, v in (p.split("=", 1) for p in params)}


def greedy_partition(a: np.ndarray, b: np.ndarray, n: int, groups: int, cap: int) -> np.ndarray:
    """Level-1 codes from a click graph: merge the heaviest edges first while a group stays within ``cap``
    items, then pack the groups into ``groups`` bins, largest first, each into the emptiest bin."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    edges, weight = np.unique(lo[keep] * n + hi[keep], return_counts=True)
    parent, size = np.arange(n), np.ones(n, dtype=np.int64)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for e in edges[np.argsort(-weight, kind="stable")]:
        ra, rb = find(int(e // n)), find(int(e % n))
        if ra != rb and size[ra] + size[rb] <= cap:
            parent[rb], size[ra] = ra, size[ra] + size[rb]
    roots = np.array([find(i) for i in range(n)])
    load, code = np.zeros(groups, dtype=np.int64), np.zeros(n, dtype=np.int64)
    members = {r: np.flatnonzero(roots == r) for r in np.unique(roots)}
    for r in sorted(members, key=lambda r: (-len(members[r]), r)):
        j = int(np.argmin(load))
        load[j] += len(members[r])
        code[members[r]] = j
    return code[:, None]


def ceiling(prep, groups: int = 256) -> dict:
    prev, last = prep.held_out
    n, train = len(prep.embeddings), prep.train
    key = lambda a, b: np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)  # noqa: E731
    held = key(prev, last)
    same_user = train.users[1:] == train.users[:-1]
    ta, tb = train.items[:-1][same_user], train.items[1:][same_user]
    co = set()
    for u in np.unique(train.users):
        items = np.unique(train.items[train.users == u])
        co.update((items[:, None] * n + items[None, :])[np.triu_indices(len(items), 1)].tolist())
    out = {"held_out": len(held),
           "in_mined_pairs": float(np.isin(held, key(prep.pairs.trigger, prep.pairs.target)).mean()),
           "in_training_transitions": float(np.isin(held, key(ta, tb)).mean()),
           "in_training_coclicks": float(np.isin(held, np.fromiter(co, np.int64)).mean())}
    for mult in (1, 2, 4):
        cap = mult * n // groups
        for name, (a, b) in (("training", (ta, tb)), ("held_out_oracle", (prev, last))):
            codes = greedy_partition(a, b, n, groups, cap)
            out[f"partition_{name}_cap{cap}"] = collab_prefix_agreement(codes, prev, last)[0]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="scientific")
    p.add_argument("--data-dir")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--variants", default="rq-kmeans,qarm")
    p.add_argument("--finetune-max-pairs", type=int)
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--finetune-layers", type=int, help="top layers that learn (default: all)")
    p.add_argument("--ceiling", action="store_true")
    p.add_argument("--out", default="benchmarks/out/alignment.jsonl")
    args = p.parse_args()
    ds = load_dataset(args.dataset, args.data_dir)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["data"], r["variant"], r["seed"]) for r in map(json.loads, out.open())} if out.exists() else set()
    variants = args.variants.split(",")
    finetune = {"epochs": args.finetune_epochs, "max_pairs": args.finetune_max_pairs,
                "train_layers": args.finetune_layers}
    if args.ceiling:
        c = ceiling(prepare(ds, seed=0))
        print(json.dumps({"data": args.dataset, "ceiling": c}), flush=True)
        with out.open("a") as f:
            f.write(json.dumps({"data": args.dataset, "variant": "ceiling", "seed": None, **c}) + "\n")
    for seed in range(args.seeds):
        todo = [v for v in variants if (args.dataset, v, seed) not in done]
        preps = {}
        for v in todo:
            finetuned, method, params = parse_variant(v)
            if finetuned not in preps:
                t = time.perf_counter()
                preps[finetuned] = prepare(ds, seed=seed, finetune=finetune if finetuned else None)
                preps[finetuned].seconds["prepare"] = time.perf_counter() - t
            prep = preps[finetuned]
            r = fit_method(prep, method, levels=3, codebook_size=256, seed=seed, **params)
            row = {"data": args.dataset, "variant": v, "seed": seed, **{k: r.quality[k] for k in KEYS},
                   "agree": r.quality["collab_prefix_agreement"], "util_min": min(r.quality["utilization"]),
                   "fit_s": r.seconds, "prepare_s": prep.seconds.get("prepare"),
                   "finetune": (prep.content.get("encoder") or {}).get("history"),
                   "finetune_s": prep.seconds.get("finetune")}
            print(json.dumps(row), flush=True)
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")
    table(out, args.dataset, variants)


def table(path: Path, data: str, variants: list[str]) -> None:
    rows = [r for r in map(json.loads, path.open()) if r["data"] == data and r["variant"] != "ceiling"]
    base = {r["seed"]: r["agree"][0] for r in rows if r["variant"] == "rq-kmeans"}
    print("| variant | seeds | collisions | agreement @1 / @2 / @3 (%) | @1 ÷ rq-kmeans | fit s | fine-tune s (pairs/s) |")
    print("|---|---|---|---|---|---|---|")
    for v in variants:
        rs = [r for r in rows if r["variant"] == v]
        if not rs:
            continue
        a = np.array([r["agree"] for r in rs]) * 100
        ratio = [r["agree"][0] / base[r["seed"]] for r in rs if r["seed"] in base]
        ft = [r for r in rs if r["finetune_s"]]
        speed = (f"{np.mean([r['finetune_s'] for r in ft]):.0f} ({np.mean([r['finetune'][0]['pairs_per_s'] for r in ft]):.0f})"
                 if ft else "–")
        print(f"| {v} | {len(rs)} | {np.mean([r['collision_rate'] for r in rs]) * 100:.1f}% | "
              + " / ".join(f"{m:.2f} ± {s:.2f}" for m, s in zip(a.mean(0), a.std(0)))
              + f" | {np.mean(ratio):.2f}× | {np.mean([r['fit_s'] for r in rs]):.0f} | {speed} |")


if __name__ == "__main__":
    main()
