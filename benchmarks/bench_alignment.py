"""Method vs baseline: QARM against rq-kmeans on the same embeddings, over several seeds.

Reports the SID quality figures and the held-out collab prefix agreement (mean ± std over seeds).

    python benchmarks/bench_alignment.py [--dataset scientific] [--data-dir DIR] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sidkit.data import load_dataset
from sidkit.workflow import fit_method, prepare

KEYS = ["collision_rate", "sid_entropy", "perplexity_min", "perplexity_mean"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="scientific")
    p.add_argument("--data-dir")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default="benchmarks/out/alignment.json")
    args = p.parse_args()
    ds = load_dataset(args.dataset, args.data_dir)
    rows: dict[str, list[dict]] = {"rq-kmeans": [], "qarm": []}
    for seed in range(args.seeds):
        prep = prepare(ds, seed=seed)
        for m in rows:
            r = fit_method(prep, m, levels=3, codebook_size=256, seed=seed)
            rows[m].append({**{k: r.quality[k] for k in KEYS}, "agree": r.quality["collab_prefix_agreement"],
                            "util_min": min(r.quality["utilization"]), "fit_s": r.seconds})
            print(m, seed, json.dumps(rows[m][-1]), flush=True)
    summary = {}
    for m, rs in rows.items():
        s = {k: (float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs]))) for k in KEYS + ["util_min", "fit_s"]}
        agree = np.array([r["agree"] for r in rs])
        s["agree"] = [(float(a), float(b)) for a, b in zip(agree.mean(0), agree.std(0))]
        summary[m] = s
    print(json.dumps(summary, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"dataset": args.dataset, "seeds": args.seeds, "runs": rows,
                                          "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
