"""How many items share their input with another item: the floor under every tokenizer's collisions.

A tokenizer maps equal inputs to equal codes, so when many items have the same text (product variants,
category-only descriptions) their SIDs can differ only in the disambiguation level, whatever the
method. This is measured on the model's input ``x`` and reported beside the SID quality, with a warning
when it is large.
"""

from __future__ import annotations

import faiss
import numpy as np

from sidkit.data.embedding_matrix import as_matrix

NEAR = 0.99          # cosine above which two inputs count as near-identical
WARN_SHARE = 0.2     # warn when this share of items has an identical input elsewhere


def duplicate_inputs(x: np.ndarray, near: float = NEAR, sample: int = 5000, seed: int = 0) -> dict:
    """{"identical_share", "near_identical_share", "near_threshold", "n_checked"}.

    Identical: the exact same row as another item (over all items). Near-identical: another item at cosine
    > ``near`` (exact search; over a seeded sample of ``sample`` items when the catalogue is larger).
    """
    x = as_matrix(x)
    n = len(x)
    if n < 2:
        return {"identical_share": 0.0, "near_identical_share": 0.0, "near_threshold": near, "n_checked": n}
    rows = np.ascontiguousarray(x).view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    _, inverse, counts = np.unique(rows, return_inverse=True, return_counts=True)
    identical = float((counts[inverse] > 1).mean())
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    queries = np.arange(n) if n <= sample else np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(np.ascontiguousarray(unit, dtype=np.float32))
    sims, ids = index.search(np.ascontiguousarray(unit[queries], dtype=np.float32), 2)
    # the best match that is not the query itself (an identical twin can come back first)
    other = np.where(ids[:, 0] == queries, sims[:, 1], sims[:, 0])
    return {"identical_share": round(identical, 6), "near_identical_share": round(float((other > near).mean()), 6),
            "near_threshold": near, "n_checked": int(len(queries))}


def duplicate_warning(stats: dict) -> str | None:
    share = stats["identical_share"]
    if share < WARN_SHARE:
        return None
    return (f"{share:.1%} of items have exactly the same input as another item (near-identical, cosine > "
            f"{stats['near_threshold']}: {stats['near_identical_share']:.1%}); their SIDs can differ only in the "
            "disambiguation level. Add distinguishing fields to --template, or collaborative input learned from "
            "the clicks (--cf-input cooc)")
