"""RQ-VAE and QuaSID: SID quality of rqvae / quasid / ablations (same seed, same step budget), encode
throughput against the bare matrix products, and DDP with 1 vs 2 processes.

    python benchmarks/bench_rqvae.py quality --dataset scientific [--steps 3000] [--seed 0]
    python benchmarks/bench_rqvae.py quality --dataset beauty --data-dir ../shared/datasets/beauty --template '{title}'
    python benchmarks/bench_rqvae.py encode  [--dataset scientific] [--rows 1000000]
    python benchmarks/bench_rqvae.py ddp     --dataset beauty --data-dir ../shared/datasets/beauty --template '{title}'

Every run appends a JSON record to benchmarks/out/rqvae_<mode>.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sidkit.content.item_embeddings import item_embeddings
from sidkit.data import load_dataset
from sidkit.methods import RQVAE
from sidkit.workflow import fit_method, prepare

VARIANTS = {
    "rq-kmeans": ("rq-kmeans", {}),
    "rqvae": ("rqvae", {}),
    "quasid": ("quasid", {}),
    "quasid --no-hamr": ("quasid", {"hamr": False}),
    "quasid --no-cvpm": ("quasid", {"cvpm": False}),
    "quasid --no-contrastive": ("quasid", {"contrastive": False}),
    "quasid, all off (rqvae on pair batches)": ("quasid", {"hamr": False, "contrastive": False}),
    "adasid": ("adasid", {}),
}


def record(mode: str, data: dict) -> None:
    out = Path("benchmarks/out") / f"rqvae_{mode}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
                       f"{torch.get_num_threads()} threads", **data}
    with out.open("a") as f:
        f.write(json.dumps(data) + "\n")


def window_mean(log: list[dict], key: str, lo: int, hi: int) -> float | None:
    v = [e[key] for e in log[lo:hi] if key in e]
    return float(np.mean(v)) if v else None


def quality(args: argparse.Namespace) -> None:
    ds = load_dataset(args.dataset, args.data_dir, template=args.template)
    prep = prepare(ds, seed=args.seed)
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    for name in names:
        method, switches = VARIANTS[name]
        params = {} if method == "rq-kmeans" else {"steps": args.steps, "fit_options": {"progress": False}}
        r = fit_method(prep, method, levels=3, codebook_size=256, seed=args.seed, **switches, **params)
        q = r.quality
        row = {"dataset": args.dataset, "variant": name, "seed": args.seed, "steps": args.steps,
               "fit_s": round(r.seconds, 1), "collision_rate": q["collision_rate"], "sid_entropy": q["sid_entropy"],
               "sid_entropy_max": q["sid_entropy_max"], "perplexity": q["perplexity"], "utilization": q["utilization"],
               "top1_load": q["top1_load"], "max_bucket": q["max_bucket"], "agree": q["collab_prefix_agreement"]}
        log = getattr(r.tokenizer, "training_log_", None)
        if log:  # steps 1-200 are the warm-up after k-means init; compare 200-300 with the last 100
            for key in ("n_batch_collision_pairs", "n_hamr_full_pairs", "n_full_overlap_pairs", "reconstruction"):
                row[key] = [window_mean(log, key, 200, 300), window_mean(log, key, len(log) - 100, len(log))]
        print(json.dumps(row), flush=True)
        record("quality", row)


def encode(args: argparse.Namespace) -> None:
    """Items/s of ``encode`` (frozen model) vs the same matrix products with nothing else around them.

    The model is a 200-step rqvae on the data set's item embeddings; the rows are those embeddings
    resampled with a little noise up to ``--rows``.
    """
    ds = load_dataset(args.dataset, args.data_dir, template=args.template)
    base = item_embeddings(ds, None)
    tok = RQVAE(steps=200, seed=0).fit(base, progress=False)
    rng = np.random.default_rng(0)
    x = base[rng.integers(0, len(base), args.rows)] + rng.normal(0, 0.01, (args.rows, base.shape[1])).astype(np.float32)
    net = tok.net_
    weights = [m.weight.detach() for m in net.encoder if isinstance(m, torch.nn.Linear)]
    books = net.quantizer.codebooks.detach()
    xt = torch.from_numpy(x)
    bs = 65536

    def floor() -> None:
        with torch.inference_mode():
            for s in range(0, len(xt), bs):
                h = xt[s:s + bs]
                for w in weights:
                    h = h @ w.T
                for c in books:
                    h @ c.T

    def ours() -> None:
        tok.encode(x, batch_size=bs)

    timings = {}
    for name, fn in (("floor", floor), ("encode", ours)):
        fn()  # warm-up
        best = min(_timed(fn) for _ in range(args.repeats))
        timings[name] = best
    row = {"rows": args.rows, "batch": bs, "encode_s": timings["encode"], "floor_s": timings["floor"],
           "encode_items_per_s": args.rows / timings["encode"], "floor_items_per_s": args.rows / timings["floor"],
           "ratio": timings["encode"] / timings["floor"]}
    print(json.dumps(row), flush=True)
    record("encode", row)


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def ddp(args: argparse.Namespace) -> None:
    """Training time of the same run (same global batch and steps) with 1 process and with 2 (torchrun)."""
    base = ["fit", "quasid", "--dataset", args.dataset, "--steps", str(args.steps), "--seed", str(args.seed)]
    if args.data_dir:
        base += ["--data-dir", args.data_dir]
    if args.template:
        base += ["--template", args.template]
    for procs, threads in ((1, 2), (2, 1)):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "out"
            launcher = ([sys.executable, "-m", "sidkit.cli"] if procs == 1 else
                        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
                         "-m", "sidkit.cli"])
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            run = subprocess.run([*launcher, *base, "--out", str(out)], env=env, capture_output=True, text=True)
            if run.returncode:
                sys.exit(run.stderr[-2000:])
            manifest = json.loads((out / "manifest.json").read_text())
            q = json.loads((out / "quality.json").read_text())
            row = {"dataset": args.dataset, "processes": procs, "threads_each": threads, "steps": args.steps,
                   "fit_s": manifest["fit_seconds"], "collision_rate": q["collision_rate"],
                   "sid_entropy": q["sid_entropy"], "utilization_min": min(q["utilization"])}
            print(json.dumps(row), flush=True)
            record("ddp", row)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["quality", "encode", "ddp"])
    p.add_argument("--dataset", default="scientific")
    p.add_argument("--data-dir")
    p.add_argument("--template")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", help=f"comma-separated subset of: {', '.join(VARIANTS)}")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    {"quality": quality, "encode": encode, "ddp": ddp}[args.mode](args)


if __name__ == "__main__":
    main()
