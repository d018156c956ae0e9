"""Co-click partners for DAS's co-occurrence views: for a click (u, i), another user who clicked i
(u2u: u′) and another item u clicked (i2i: i′), drawn uniformly among the distinct candidates.

Only the training interactions go in. A click with no partner (i clicked by u alone, or u's only item)
gets −1 and the view leaves that row out.
"""

from __future__ import annotations

import numpy as np

from sidkit.data.types import Interactions


class _Neighbours:
    """Distinct (key, value) pairs as one sorted array of key·width + value: a key's values are a
    contiguous, sorted run, so one searchsorted finds both the run and a value's place in it."""

    def __init__(self, keys: np.ndarray, values: np.ndarray, n_keys: int, width: int) -> None:
        self.width = width
        self.pairs = np.unique(keys.astype(np.int64) * width + values)
        self.values = self.pairs % width
        self.offsets = np.searchsorted(self.pairs // width, np.arange(n_keys + 1))

    def other(self, keys: np.ndarray, exclude: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniform draw among each key's values other than ``exclude`` (−1 where there is none).

        A slot in [0, n − 1) is drawn and moved one up from the excluded value's slot onwards, so every
        other value is equally likely with no retry loop."""
        start, n = self.offsets[keys], self.offsets[keys + 1] - self.offsets[keys]
        own = np.searchsorted(self.pairs, keys * self.width + exclude) - start
        slot = np.floor(rng.random(len(keys)) * np.maximum(n - 1, 1)).astype(np.int64)
        slot += slot >= own
        pick = self.values[np.minimum(start + slot, len(self.values) - 1)]
        return np.where(n >= 2, pick, -1)


class CoClicks:
    def __init__(self, train: Interactions) -> None:
        self.by_item = _Neighbours(train.items, train.users, train.n_items, max(train.n_users, 1))
        self.by_user = _Neighbours(train.users, train.items, train.n_users, max(train.n_items, 1))

    def sample(self, users: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(u′ [B], i′ [B]): for each click (users[b], items[b]), another user who clicked the item and
        another item the user clicked, or −1 where there is none."""
        return self.by_item.other(items, users, rng), self.by_user.other(users, items, rng)
