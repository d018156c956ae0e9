"""QARM's User2Item pairs: for each positive (user, target), the trigger is the item among the user's
previous ≤ ``history`` positives that is closest to the target in a CF model's item-ID space."""

from __future__ import annotations

import numpy as np

from sidkit.collab.item_pairs import ItemPairs
from sidkit.data.types import Interactions


def u2i_trigger_pairs(train: Interactions, item_factors: np.ndarray, history: int = 50) -> ItemPairs:
    f = item_factors / np.maximum(np.linalg.norm(item_factors, axis=1, keepdims=True), 1e-12)
    triggers, targets = [], []
    for seq in train.sequences():
        if len(seq) < 2:
            continue
        v = f[seq]
        sim = v @ v.T  # position × position
        for t in range(1, len(seq)):
            lo = max(0, t - history)
            prev = sim[t, lo:t].copy()
            prev[seq[lo:t] == seq[t]] = -np.inf  # the same item again is no pair
            if np.isneginf(prev).all():
                continue
            triggers.append(seq[lo + int(np.argmax(prev))])
            targets.append(seq[t])
    return ItemPairs.of(np.asarray(triggers), np.asarray(targets), "u2i")
