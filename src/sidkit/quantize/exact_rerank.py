"""Nearest codewords that do not depend on the batch.

faiss and torch compute x·c for a whole batch with BLAS, whose rounding depends on the batch's shape and
the thread count, so two codewords within a rounding error of each other can swap with the batch. A row
must get the same code encoded alone, in one Ray actor's piece or in the whole catalogue (the sharded
path gives the in-process SIDs item for item). So the float32 search is trusted only where its order is
clear by more than float32 can err (a bound from the vectors' norms and width); the few rows it leaves in
doubt (about 0.3% on 128-d Gaussian data) are settled by exact float64 distances to every codeword,
row by row, ties to the lower code index.
"""

from __future__ import annotations

import numpy as np

_U32 = 2.0 ** -24   # float32 unit roundoff
CHUNK = 64          # rows per exact block: [CHUNK, K, d] float64


def _doubtful(x: np.ndarray, centroids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Rows whose k best codes (or the (k+1)-th) are closer than twice the float32 error bound."""
    if scores.shape[1] < 2:
        return np.zeros(len(x), dtype=bool)
    d = x.shape[1]
    x32 = np.asarray(x, dtype=np.float32)
    c32 = np.asarray(centroids, dtype=np.float32)
    # the norms only size the bound; float32 is precise enough for that (the factor 4 covers it)
    scale = np.einsum("nd,nd->n", x32, x32).astype(np.float64) + float(np.einsum("kd,kd->k", c32, c32).max())
    tol = 4.0 * (d + 4) * _U32 * scale
    gaps = np.diff(scores[:, :k + 1].astype(np.float64), axis=1).min(axis=1)
    return gaps <= tol


def exact_order(x: np.ndarray, centroids: np.ndarray, k: int, prices: np.ndarray | None = None) -> np.ndarray:
    """The k best codes of each row by exact float64 ‖x − c‖² (minus ``prices``), ties to the lower code."""
    c64 = np.asarray(centroids, dtype=np.float64)
    codes = np.arange(len(c64))
    out = np.empty((len(x), k), dtype=np.int64)
    for s in range(0, len(x), CHUNK):
        diff = np.asarray(x[s:s + CHUNK], dtype=np.float64)[:, None, :] - c64[None]
        score = np.einsum("nkd,nkd->nk", diff, diff)  # each row on its own, in a fixed order: no BLAS blocking
        if prices is not None:
            score -= np.asarray(prices, dtype=np.float64)[None, :]
        order = np.lexsort((np.broadcast_to(codes, score.shape), score), axis=-1)
        out[s:s + CHUNK] = order[:, :k]
    return out


def settle(x: np.ndarray, centroids: np.ndarray, scores: np.ndarray, short: np.ndarray, k: int,
           prices: np.ndarray | None = None) -> np.ndarray:
    """The k best codes [N, k] from a float32 search's ascending ``scores`` / ``short`` [N, ≥ k(+1)]:
    kept where their order is clear, recomputed exactly where it is in doubt."""
    out = np.asarray(short[:, :k], dtype=np.int64).copy()
    doubt = np.flatnonzero(_doubtful(x, centroids, scores, k))
    if len(doubt):
        out[doubt] = exact_order(np.asarray(x)[doubt], centroids, k, prices)
    return out


def search_size(k: int, n_codes: int) -> int:
    """Codes to ask the float32 search for: one past k, to see the gap to the first code left out."""
    return min(n_codes, k + 1)
