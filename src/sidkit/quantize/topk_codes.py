"""QARM's VQ code: the codebook is the set of all items' aligned representations itself, and an item's
code is the indices of its top-K most similar items (cosine)."""

from __future__ import annotations

import faiss
import numpy as np

from sidkit.data.embedding_matrix import as_matrix


def topk_codes(queries: np.ndarray, codebook: np.ndarray, k: int, exclude_self: bool = False) -> np.ndarray:
    """[N, k] int64 row indices into ``codebook``, most similar first.

    ``exclude_self``: the queries are the codebook rows themselves; an item is never its own code (ties
    between identical items are broken by index, so a duplicate of the item may still appear).
    """
    q = as_matrix(queries, "queries").copy()
    cb = as_matrix(codebook, "codebook").copy()
    faiss.normalize_L2(q)
    faiss.normalize_L2(cb)
    k = min(k, len(cb) - (1 if exclude_self else 0))
    index = faiss.IndexFlatIP(cb.shape[1])
    index.add(cb)
    _, idx = index.search(q, k + 1 if exclude_self else k)
    if not exclude_self:
        return idx.astype(np.int64)
    rows = np.arange(len(q))[:, None]
    keep = idx != rows
    # drop self where it appears; otherwise drop the last neighbour so every row keeps k
    keep[keep.all(axis=1), -1] = False
    return idx[keep].reshape(len(q), k).astype(np.int64)
