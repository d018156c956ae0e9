"""CF as an input modality (``--cf-input``) against content-only input, same run, several seeds: every
method on the same content embeddings and pairs, with and without item factors fused in.

    python benchmarks/bench_cf_input.py --data scientific-categories [--seeds 3] [--steps 1000]
    python benchmarks/bench_cf_input.py --data scientific,beauty --methods rq-kmeans,qarm --cf none,cooc
    python benchmarks/bench_cf_input.py --methods rq-kmeans,rqvae --cold-share 0.1   # cold items vs content-only
    python benchmarks/bench_cf_input.py --decompose   # agreement split by identical / different item text
    python benchmarks/bench_cf_input.py --table    # print the tables from what was recorded

Data: ``scientific-categories`` is the embedded data set with the category list as the only text (the
content-poor case), ``scientific`` its full template, ``beauty`` the titles. ``--cf`` takes ``none`` or
``KIND[:WEIGHT[:COLD]]`` (e.g. ``cooc:0.3``). The RQ-VAE family trains ``--steps`` steps.

Appends one JSON record per (data, cf, method, seed) to benchmarks/out/cf_input.jsonl, skipping those
already there (the bench resumes), and prints mean ± std over seeds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dataclasses import replace

import numpy as np

from sidkit.collab.cf_input import CFInput
from sidkit.content import TextEncoder
from sidkit.data import load_dataset
from sidkit.methods import method_class
from sidkit.workflow import fit_method, prepare

OUT = Path("benchmarks/out/cf_input.jsonl")
BEAUTY = Path(__file__).resolve().parents[2] / "shared/datasets/beauty"
DATA = {"scientific-categories": lambda: load_dataset("scientific", template="{categories}"),
        "scientific": lambda: load_dataset("scientific"),
        "beauty": lambda: load_dataset("beauty", str(BEAUTY))}


def parse_cf(text: str, seed: int) -> CFInput | None:
    if text == "none":
        return None
    kind, *rest = text.split(":")
    return CFInput(kind, float(rest[0]) if rest else 0.2, cold=rest[1] if len(rest) > 1 else "mapped", seed=seed)


def with_cold_items(prep, share: float, seed: int, cf: CFInput | None):
    """``prep`` (content only) with ``share`` of the clicked items made cold: their training clicks are
    dropped from what the CF factors (and the by-clicks report) see, so they get the content-made
    stand-in; with ``cf`` None the input stays content only, for the same items' comparison."""
    n = len(prep.embeddings)
    warm = np.flatnonzero(np.bincount(prep.train.items, minlength=n) > 0)
    cold = np.random.default_rng(10_000 + seed).choice(warm, int(share * len(warm)), replace=False)
    train = prep.train.take(~np.isin(prep.train.items, cold))
    if cf is None:
        return replace(prep, train=train)
    return replace(prep, train=train, embeddings=cf.fit(train, prep.embeddings).fitted_input(prep.embeddings),
                   cf_input=cf)


def decompose(seeds: int, cold_share: float = 0.1) -> None:
    """rq-kmeans on scientific-categories: agreement of the held-out transitions split by whether the two
    items' texts are identical, content only vs content + cooc:0.2; then the same for the transitions into
    items made cold (``cold_share``). Content-only codes give identical texts the same tuple, so their
    agreement there is their collisions; the other part is where the codes can carry meaning."""
    from sidkit.content.template import render_texts
    from sidkit.sids.quality import collab_prefix_agreement

    ds = DATA["scientific-categories"]()
    text = np.array(render_texts(ds.text_template, ds.catalog.text))
    encoder = TextEncoder(show_progress=False)
    for cold in (0.0, cold_share):
        print(f"\n{'all held-out transitions' if not cold else f'transitions into the {cold:g} made cold'}\n")
        print("| seed | input | transitions, same text / different | agreement @1/@2/@3 %, same text | different text |")
        print("|---|---|---|---|---|")
        for seed in range(seeds):
            base = prepare(ds, encoder, seed=seed, need_pairs=False)
            for cf_text in ("none", "cooc:0.2"):
                cf = parse_cf(cf_text, seed)
                prep = with_cold_items(base, cold, seed, cf)  # cold 0: no item made cold
                codes = fit_method(prep, "rq-kmeans", seed=seed).sids.codes
                prev, last = prep.held_out
                into = np.bincount(prep.train.items, minlength=len(codes))[last] == 0 if cold else np.ones(len(last), bool)
                same = (text[prev] == text[last]) & into
                differ = ~(text[prev] == text[last]) & into
                fmt = lambda m: " / ".join(f"{100 * a:.2f}" for a in collab_prefix_agreement(codes, prev[m], last[m]))  # noqa: E731
                print(f"| {seed} | {cf_text} | {same.sum()} / {differ.sum()} | {fmt(same)} | {fmt(differ)} |", flush=True)


def record(prep, method: str, seed: int, steps: int) -> dict:
    params = {"steps": steps} if "steps" in method_class(method)().get_params() else {}
    result = fit_method(prep, method, seed=seed, **params)
    q = result.quality
    return {"collision_rate": q["collision_rate"], "n_unique_sids": q["n_unique_sids"],
            "perplexity": q["perplexity"], "utilization": q["utilization"],
            "agreement": q["collab_prefix_agreement"], "by_clicks": q["by_clicks"], "fit_seconds": result.seconds}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="scientific-categories")
    ap.add_argument("--methods", default="rq-kmeans,qarm,rqvae,quasid,adasid,das")
    ap.add_argument("--cf", default="none,cooc,bpr")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--table", action="store_true", help="only print the tables")
    ap.add_argument("--decompose", action="store_true",
                    help="agreement split by identical / different text (rq-kmeans, scientific-categories)")
    ap.add_argument("--cold-share", type=float, default=0.0,
                    help="make this share of the clicked items cold (rq-kmeans / rqvae only) and compare them")
    args = ap.parse_args()
    if args.cold_share and {"qarm", "quasid", "adasid", "das"} & set(args.methods.split(",")):
        ap.error("--cold-share takes pair-free methods only (rq-kmeans, rqvae)")
    if args.decompose:
        return decompose(args.seeds, args.cold_share or 0.1)
    if not args.table:
        run(args)
    print_tables(args.out)


def run(args) -> None:
    done = set()
    if args.out.exists():
        done = {(r["data"], r["cf"], r["method"], r["seed"], r["steps"]) for r in map(json.loads, args.out.open())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    encoder = TextEncoder(show_progress=False)
    methods = args.methods.split(",")
    for name in args.data.split(","):
        ds = DATA[name]()
        data = f"{name} cold{args.cold_share:g}" if args.cold_share else name
        for seed in range(args.seeds):
            for cf_text in args.cf.split(","):
                todo = [m for m in methods if (data, cf_text, m, seed, args.steps) not in done]
                if not todo:
                    continue
                if args.cold_share:  # pair-free methods only: mined pairs would still hold the cold items
                    prep = with_cold_items(prepare(ds, encoder, seed=seed, need_pairs=False), args.cold_share, seed,
                                           parse_cf(cf_text, seed))
                else:
                    prep = prepare(ds, encoder, seed=seed, need_users="das" in todo, cf_input=parse_cf(cf_text, seed))
                for method in todo:
                    t = time.perf_counter()
                    row = {"data": data, "cf": cf_text, "method": method, "seed": seed, "steps": args.steps,
                           **record(prep, method, seed, args.steps)}
                    with args.out.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"{data} {cf_text} {method} seed {seed}: collisions {row['collision_rate']:.2%}, "
                          f"agreement {[round(a, 4) for a in row['agreement']]} ({time.perf_counter() - t:.0f}s)",
                          flush=True)


def _ms(values: list[float], pct: bool = True, digits: int = 1) -> str:
    v = np.array(values, dtype=float) * (100 if pct else 1)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"


def print_tables(path: Path) -> None:
    rows = [json.loads(line) for line in path.open()] if path.exists() else []
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["data"], r["steps"], r["method"], r["cf"]), []).append(r)
    for data in dict.fromkeys(r["data"] for r in rows):
        print(f"\n{data}\n")
        print("| method | input | seeds | collisions % | distinct SIDs | agreement @1 / @2 / @3 % | perplexity l1/l2/l3 "
              "| items without training clicks: collisions % (n); agreement @1 / @2 / @3 % (transitions) | fit s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (d, steps, method, cf), rs in groups.items():
            if d != data:
                continue
            agree = " / ".join(_ms([r["agreement"][lvl] for r in rs], digits=2) for lvl in range(3))
            perp = " / ".join(f"{np.mean([r['perplexity'][lvl] for r in rs]):.0f}" for lvl in range(3))
            cold = rs[0]["by_clicks"]["without_clicks"]
            cold_txt = (f"{_ms([r['by_clicks']['without_clicks']['collision_rate'] for r in rs])} ({cold['n_items']}); "
                        + " / ".join(_ms([r["by_clicks"]["without_clicks"]["collab_prefix_agreement"][lvl] for r in rs],
                                         digits=2) for lvl in range(3))
                        + f" ({cold['held_out_transitions']})" if cold["n_items"] else "–")
            print(f"| {method}{'' if method == 'rq-kmeans' or method == 'qarm' else f' ({steps} steps)'} | "
                  f"{'content' if cf == 'none' else 'content + ' + cf} | {len(rs)} | "
                  f"{_ms([r['collision_rate'] for r in rs])} | {_ms([r['n_unique_sids'] for r in rs], False, 0)} | "
                  f"{agree} | {perp} | {cold_txt} | {_ms([r['fit_seconds'] for r in rs], False, 0)} |")


if __name__ == "__main__":
    main()
