"""Seeded faiss k-means: the one place sidkit calls faiss.Kmeans, so every caller gets the same settings."""

from __future__ import annotations

import faiss
import numpy as np

from sidkit.errors import SidkitError
from sidkit.quantize.exact_rerank import search_size, settle


def kmeans_centroids(x: np.ndarray, k: int, *, niter: int = 20, seed: int = 0, nredo: int = 1,
                     max_points_per_centroid: int = 256) -> np.ndarray:
    """Train k-means on ``x`` (float32, C-contiguous) and return the [k, d] centroids.

    faiss re-seeds empty clusters by splitting large ones during training, which is what keeps code
    utilisation high; it samples at most ``max_points_per_centroid·k`` training points (seeded).
    """
    n, d = x.shape
    if k > n:
        raise SidkitError(f"codebook size {k} is larger than the {n} items to cluster; expected a codebook size ≤ {n}")
    if k < 1:
        raise SidkitError(f"codebook size {k}; expected at least 1")
    km = faiss.Kmeans(d, k, niter=niter, seed=seed, nredo=nredo, verbose=False,
                      max_points_per_centroid=max_points_per_centroid, min_points_per_centroid=1)
    km.train(x)
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def nearest(x: np.ndarray, centroids: np.ndarray, k: int = 1) -> np.ndarray:
    """Index of the nearest centroid (L2) for each row of ``x`` [N] (with k > 1: the k nearest, nearest
    first, [N, k]). The same for a row whatever batch it comes in (quantize/exact_rerank.py)."""
    centroids = np.ascontiguousarray(centroids, dtype=np.float32)
    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(centroids)
    x = np.ascontiguousarray(x, dtype=np.float32)
    scores, short = index.search(x, search_size(k, len(centroids)))
    best = settle(x, centroids, scores, short, min(k, len(centroids)))
    return best[:, 0] if k == 1 else best
