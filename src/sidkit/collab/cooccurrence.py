"""Co-occurrence pairs: items that appear within ``window`` positions of each other in a user's sequence."""

from __future__ import annotations

import numpy as np

from sidkit.collab.item_pairs import ItemPairs
from sidkit.data.types import Interactions


def top_k_per_row(rows: np.ndarray, cols: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest-scoring entries of each row (ties broken by column, for determinism)."""
    order = np.lexsort((cols, -score, rows))
    rows_sorted = rows[order]
    starts = np.searchsorted(rows_sorted, rows_sorted, side="left")
    rank = np.arange(len(order)) - starts
    return order[rank < k]


def cooccurrence_pairs(train: Interactions, window: int = 3, min_count: int = 2, top_k: int = 20) -> ItemPairs:
    """For each item, its ``top_k`` most frequent neighbours within ``window`` steps, seen ≥ ``min_count`` times."""
    n = train.n_items
    src, dst = [], []
    for step in range(1, window + 1):
        ok = train.users[:-step] == train.users[step:]
        a, b = train.items[:-step][ok], train.items[step:][ok]
        src += [a, b]
        dst += [b, a]
    if not src:
        return ItemPairs.empty()
    a, b = np.concatenate(src), np.concatenate(dst)
    keep = a != b
    keys, counts = np.unique(a[keep] * n + b[keep], return_counts=True)
    rows, cols = keys // n, keys % n
    ok = counts >= min_count
    rows, cols, counts = rows[ok], cols[ok], counts[ok]
    pick = top_k_per_row(rows, cols, counts.astype(np.float64), top_k)
    return ItemPairs.of(rows[pick], cols[pick], "cooccurrence")
