"""Every tokenizer on the same embeddings, same run, several seeds: the tokenizer-quality table.

    python benchmarks/bench_methods.py [--data scientific] [--seeds 3] [--steps 3000]
        [--methods rq-kmeans,rq-kmeans:balance=true,qarm,rqvae,quasid,adasid,das,letter]

A method is a name, optionally with constructor values (``letter:collab_weight=0.01,collab_kind=bpr``; values as ``--param`` reads them). Each
(data, method, seed) is one ``workflow.fit_method`` with the default collision handling, and its figures
come from the ``quality.json`` the fit writes: collisions, per-level perplexity and use, held-out
agreement @1..3, reconstruction MSE (methods that decode), neighbour preservation @10, fit seconds, and
the step ``--select collisions`` kept. Records are appended to benchmarks/out/methods.jsonl; a unit
already there is not run again (resumable). Seeds are the outer loop, so a cut-short run has every
method for the first seeds. The table gives mean ± std and, per method, the paired per-seed difference
from ``rqvae`` (mean and a t interval over seeds) for collisions and @1 agreement.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

from sidkit.cli_flags import method_spec, split_specs
from sidkit.content import TextEncoder
from sidkit.data import load_dataset
from sidkit.methods import METHODS
from sidkit.params import params_of
from sidkit.workflow import fit_method, prepare

DEFAULT = "rq-kmeans,rq-kmeans:balance=true,qarm,rqvae,quasid,adasid,das,letter"


def measure(prep, spec: str, seed: int, steps: int) -> dict:
    name, params = method_spec(spec)
    if "steps" in params_of(METHODS[name]):
        params = {"steps": steps, **params}
    r = fit_method(prep, name, seed=seed, fit_options={"progress": False}, **params)
    q = r.quality
    return {"seconds": r.seconds, "collision_rate": q["collision_rate"], "perplexity": q["perplexity"],
            "utilization": q["utilization"], "agreement": q["collab_prefix_agreement"],
            "mse": q.get("reconstruction_mse"), "neighbours@10": q["neighbour_preservation@10"],
            "selected_step": getattr(r.tokenizer, "selected_step_", None)}


def seed_interval(diffs: list[float]) -> str:
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return f"{d.mean():+.2f}"
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return f"{d.mean():+.2f} [{d.mean() - half:+.2f}, {d.mean() + half:+.2f}]"


def table(records: list[dict]) -> None:
    print("| data | method | collisions | perplexity l1/l2/l3 | use l1/l2/l3 | agreement @1/@2/@3 | MSE | "
          "neighbours@10 l1/l2/l3 | fit s | Δ collisions vs rqvae | Δ @1 vs rqvae | kept step |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, str], dict[int, dict]] = {}
    for r in records:
        groups.setdefault((r["data"], r["method"]), {})[r["seed"]] = r
    for (data, method), by_seed in groups.items():
        recs = list(by_seed.values())

        def ms(get, scale=1.0, digits=1):
            v = np.array([get(r) for r in recs], dtype=float) * scale
            return f"{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0:.{digits}f}"

        base = groups.get((data, "rqvae"), {})
        shared = sorted(set(by_seed) & set(base))
        dc = [100 * (by_seed[s]["collision_rate"] - base[s]["collision_rate"]) for s in shared]
        da = [100 * (by_seed[s]["agreement"][0] - base[s]["agreement"][0]) for s in shared]
        mse = ms(lambda r: r["mse"], 1e4, 2) + "e-4" if all(r["mse"] is not None for r in recs) else "–"
        kept = sorted({r["selected_step"] for r in recs if r["selected_step"] is not None})
        print(f"| {data} | {method} (n={len(recs)}) | {ms(lambda r: r['collision_rate'], 100)}% | "
              + " / ".join(f"{np.mean([r['perplexity'][i] for r in recs]):.0f}" for i in range(3)) + " | "
              + " / ".join(f"{100 * np.mean([r['utilization'][i] for r in recs]):.1f}" for i in range(3)) + "% | "
              + " / ".join(ms(lambda r, i=i: r["agreement"][i], 100, 2) for i in range(3))
              + f" | {mse} | "
              + " / ".join(f"{np.mean([r['neighbours@10'][i] for r in recs]):.3f}" for i in range(3))
              + f" | {ms(lambda r: r['seconds'], 1.0, 0)} | "
              + (f"{seed_interval(dc)} | {seed_interval(da)}" if shared and method != "rqvae" else "– | –")
              + f" | {', '.join(map(str, kept)) or '–'} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="scientific", help="scientific, or beauty (titles)")
    ap.add_argument("--beauty-dir", default=str(Path(__file__).resolve().parents[2] / "shared/datasets/beauty"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000, help="steps of every method that has them")
    ap.add_argument("--methods", default=DEFAULT)
    ap.add_argument("--out", default="benchmarks/out/methods.jsonl")
    ap.add_argument("--table", action="store_true", help="print the table of --out and stop")
    args = ap.parse_args()
    out = Path(args.out)
    specs = split_specs(args.methods)
    done = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    wanted = lambda r: r["data"] == args.data and r["method"] in specs and r["steps"] == args.steps  # noqa: E731
    if not args.table:
        names = [method_spec(s)[0] for s in specs]
        for spec, name in zip(specs, names):
            if name not in METHODS:
                raise SystemExit(f"unknown method in {spec!r}")
        ds = load_dataset("beauty", args.beauty_dir) if args.data == "beauty" else load_dataset(args.data)
        prep = prepare(ds, TextEncoder(show_progress=False), need_pairs=True,
                       need_users=any(METHODS[n].needs_users for n in names))
        out.parent.mkdir(parents=True, exist_ok=True)
        for seed in range(args.seeds):
            for spec in specs:
                if any(wanted(r) and r["method"] == spec and r["seed"] == seed for r in done):
                    continue
                rec = {"data": args.data, "method": spec, "seed": seed, "steps": args.steps,
                       **measure(prep, spec, seed, args.steps)}
                done.append(rec)
                with open(out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                print(f"{spec} seed {seed}: {rec['collision_rate']:.2%} collisions, @1 {rec['agreement'][0]:.2%}, "
                      f"{rec['seconds']:.0f}s", flush=True)
    table([r for r in done if wanted(r)])


if __name__ == "__main__":
    main()
