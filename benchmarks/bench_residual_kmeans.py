"""Residual k-means fit + assign: sidkit's ResidualKMeans against a bare faiss loop doing the same work,
in the same run, on Beauty title embeddings and on 1M synthetic 384-d vectors.

    python benchmarks/bench_residual_kmeans.py [--beauty-dir ../shared/datasets/beauty] [--synthetic 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import faiss
import numpy as np

from sidkit.content import TextEncoder, item_embeddings
from sidkit.data import load_dataset
from sidkit.quantize import ResidualKMeans


def bare_faiss(x: np.ndarray, levels: int, k: int, seed: int) -> np.ndarray:
    """QARM Algorithm 1, straight against faiss."""
    residual = x.copy()
    codes = []
    for level in range(levels):
        km = faiss.Kmeans(x.shape[1], k, niter=20, seed=seed + level, max_points_per_centroid=256,
                          min_points_per_centroid=1)
        km.train(residual)
        _, idx = km.index.search(residual, 1)
        residual -= km.centroids[idx[:, 0]]
        codes.append(idx[:, 0])
    return np.stack(codes, axis=1)


def ours(x: np.ndarray, levels: int, k: int, seed: int) -> np.ndarray:
    return ResidualKMeans(levels, k, seed=seed).fit(x).labels_


def compare(name: str, x: np.ndarray, levels: int, k: int, repeats: int) -> dict:
    times = {"sidkit": [], "bare_faiss": []}
    codes = {}
    for r in range(repeats):
        runs = [("sidkit", ours), ("bare_faiss", bare_faiss)]
        for label, fn in runs if r % 2 == 0 else runs[::-1]:  # alternate order: no side gets the warm cache
            t = time.perf_counter()
            codes[label] = fn(x, levels, k, 0)
            times[label].append(time.perf_counter() - t)
    med = {k2: float(np.median(v)) for k2, v in times.items()}
    row = {"data": name, "n": len(x), "dim": x.shape[1], "levels": levels, "k": k, "repeats": repeats,
           "sidkit_s": med["sidkit"], "bare_faiss_s": med["bare_faiss"], "ratio": med["sidkit"] / med["bare_faiss"],
           "same_codes": bool((codes["sidkit"] == codes["bare_faiss"]).all())}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--beauty-dir", default=str(Path(__file__).resolve().parents[2] / "shared/datasets/beauty"))
    p.add_argument("--synthetic", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="benchmarks/out/residual_kmeans.json")
    args = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"faiss {faiss.__version__}, threads {faiss.omp_get_max_threads()}", file=sys.stderr)
    rows = []
    ds = load_dataset("beauty", args.beauty_dir)
    x = item_embeddings(ds, TextEncoder(show_progress=False))
    rows.append(compare("beauty titles (MiniLM)", x, 3, 256, args.repeats))
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(1000, 384)).astype(np.float32)
    syn = centers[rng.integers(0, 1000, args.synthetic)] + 0.5 * rng.normal(size=(args.synthetic, 384)).astype(np.float32)
    rows.append(compare(f"synthetic {args.synthetic:,} x 384", syn, 3, 256, args.repeats))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
