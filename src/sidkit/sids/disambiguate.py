"""TIGER's disambiguation level: items sharing a full code tuple get 0, 1, 2, ... in catalogue order."""

from __future__ import annotations

import numpy as np


def disambiguation_level(codes: np.ndarray) -> np.ndarray:
    """[N] int64: the rank of each item among the items with the same code tuple (0 for a unique tuple)."""
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    _, group = np.unique(codes, axis=0, return_inverse=True)
    group = group.ravel()
    order = np.lexsort((np.arange(len(codes)), group))
    sorted_group = group[order]
    start = np.searchsorted(sorted_group, sorted_group, side="left")
    level = np.empty(len(codes), dtype=np.int64)
    level[order] = np.arange(len(codes)) - start
    return level


def with_disambiguation(codes: np.ndarray) -> np.ndarray:
    """[N, L+1]: the codes with the disambiguation level appended, unique per item."""
    return np.concatenate([codes, disambiguation_level(codes)[:, None]], axis=1)
