"""SID quality over the whole corpus (the names and meanings of quality.json, ARCHITECTURE.md)."""

from __future__ import annotations

import numpy as np


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def collision_rate(codes: np.ndarray) -> float:
    """Share of rows whose full code tuple another row also has."""
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return float((counts[inverse.ravel()] > 1).mean())


def sid_quality(codes: np.ndarray, codebook_sizes: list[int]) -> dict:
    """Collision and usage figures of ``codes`` [N, L] (before disambiguation)."""
    codes = np.asarray(codes, dtype=np.int64)
    n, levels = codes.shape
    _, group, tuple_counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    per_item = tuple_counts[group.ravel()]
    usage = [np.bincount(codes[:, lvl], minlength=codebook_sizes[lvl]) for lvl in range(levels)]
    perplexity = [float(np.exp(_entropy(u))) for u in usage]
    return {
        "n_items": int(n),
        "levels": int(levels),
        "codebook_sizes": [int(k) for k in codebook_sizes],
        "collision_rate": float((per_item > 1).mean()),
        "max_bucket": int(tuple_counts.max()),
        "n_unique_sids": int(len(tuple_counts)),
        "utilization": [float((u > 0).sum() / k) for u, k in zip(usage, codebook_sizes)],
        "perplexity": perplexity,
        "perplexity_min": float(min(perplexity)),
        "perplexity_mean": float(np.mean(perplexity)),
        "sid_entropy": _entropy(tuple_counts),
        "sid_entropy_max": float(np.log(n)),
        "top1_load": [float(u.max() / n) for u in usage],
    }


def collab_prefix_agreement(codes: np.ndarray, prev: np.ndarray, last: np.ndarray) -> list[float | None]:
    """For l = 1..L, the share of held-out (prev, last) item pairs whose codes agree on the first l levels.

    Collaboratively aligned IDs should put the items a user takes one after the other under a common
    prefix more often than content alone does.
    """
    codes = np.asarray(codes)
    if len(prev) == 0:  # no user has two items: nothing to measure (None, which JSON can hold; NaN it cannot)
        return [None] * codes.shape[1]
    same = codes[prev] == codes[last]
    return [float(np.logical_and.reduce(same[:, :lvl], axis=1).mean()) for lvl in range(1, codes.shape[1] + 1)]


def neighbour_preservation(x: np.ndarray, codes: np.ndarray, k: int = 10, queries: int = 2000,
                           seed: int = 0) -> list[float]:
    """For l = 1..L, the share of each item's ``k`` nearest neighbours in ``x`` (cosine) that share its
    first l codes, averaged over up to ``queries`` items drawn with ``seed`` (the exact search over every
    item is quadratic; 2,000 queries put the figure within about ±1 point).

    Content-faithful codes keep neighbours under one prefix; the share falls with depth by design."""
    import faiss

    codes = np.asarray(codes, dtype=np.int64)
    n = len(codes)
    if n < 2:
        return [None] * codes.shape[1]
    xn = np.ascontiguousarray(x, dtype=np.float32).copy()
    faiss.normalize_L2(xn)
    q = np.sort(np.random.default_rng(seed).choice(n, min(queries, n), replace=False))
    index = faiss.IndexFlatIP(xn.shape[1])
    index.add(xn)
    kk = min(k, n - 1)
    _, nb = index.search(xn[q], kk + 1)
    # drop the query itself (ties at equal vectors can put another row first; drop one column either way)
    nb = np.array([[j for j in row if j != i][:kk] for i, row in zip(q, nb.tolist())])
    same = codes[nb] == codes[q][:, None, :]                       # [Q, k, L]
    return [float(np.cumprod(same, axis=2)[:, :, lvl].mean()) for lvl in range(codes.shape[1])]


def quality_by_group(codes: np.ndarray, groups: dict[str, np.ndarray], prev: np.ndarray,
                     last: np.ndarray) -> dict[str, dict]:
    """Collision figures for each group of items (a boolean mask over rows), so a user sees where
    collisions remain: ``n_items``, ``collision_rate`` (share of the group's items whose tuple another
    item, in the group or not, also has), ``n_unique_sids`` among them, and the prefix agreement of the
    held-out transitions whose *last* item is in the group."""
    codes = np.asarray(codes, dtype=np.int64)
    _, group, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    group = group.ravel()
    shared = counts[group] > 1
    out = {}
    for name, mask in groups.items():
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        into = mask[last] if len(last) else np.zeros(0, bool)
        out[name] = {"n_items": n,
                     "collision_rate": float(shared[mask].mean()) if n else None,
                     "n_unique_sids": int(len(np.unique(group[mask]))),
                     "held_out_transitions": int(into.sum()),
                     "collab_prefix_agreement": collab_prefix_agreement(codes, prev[into], last[into])}
    return out


def quality_by_clicks(codes: np.ndarray, clicked: np.ndarray, prev: np.ndarray, last: np.ndarray) -> dict[str, dict]:
    """``quality_by_group`` for items with and without training clicks (``clicked``, a mask over rows):
    the ``by_clicks`` entry of quality.json, the same whether a fit, an import or ``sidkit quality`` writes it."""
    clicked = np.asarray(clicked, dtype=bool)
    return quality_by_group(codes, {"with_clicks": clicked, "without_clicks": ~clicked}, prev, last)
