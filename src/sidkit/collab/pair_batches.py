"""Training batches for gradient-trained tokenizers: pair batches or plain item batches.

A pair batch holds B mined (trigger, target) pairs as 2B rows: the B triggers, then their B targets,
carrying catalogue row numbers so objectives can build masks. Without pairs, a batch is a slice of a
permutation of the catalogue.

Batch ``step`` depends only on (seed, step): epoch e's order is a permutation drawn from (seed, e), so a
resumed run sees exactly the batches an uninterrupted run would. Under data parallelism each process
takes every world-th pair (or row) of the same global batch, so the global batch, and the number of
optimizer steps, do not depend on the number of processes.
"""

from __future__ import annotations

import numpy as np

from sidkit.collab.item_pairs import ItemPairs
from sidkit.errors import SidkitError


class BatchPlan:
    def __init__(self, n_items: int, pairs: ItemPairs | None, batch_size: int, seed: int = 0) -> None:
        self.pairs, self.seed = pairs, seed
        if pairs is not None:
            self.per_batch = max(1, batch_size // 2)  # pairs per batch: 2B rows in all
            n = len(pairs)
            if n < 2:
                raise SidkitError("pair batches need at least 2 mined item pairs; the interactions gave fewer")
        else:
            self.per_batch = batch_size
            n = n_items
        self.per_batch = min(self.per_batch, n)
        self.steps_per_epoch = n // self.per_batch
        self._n = n
        self._epoch, self._order = -1, np.zeros(0, dtype=np.int64)

    def _slice(self, step: int) -> np.ndarray:
        epoch, k = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(self._n)
        return self._order[k * self.per_batch:(k + 1) * self.per_batch]

    def rows(self, step: int, rank: int = 0, world: int = 1) -> tuple[np.ndarray, int]:
        """(catalogue rows of this process's share of batch ``step``, number of pairs in it)."""
        sl = self._slice(step)[rank::world]
        if self.pairs is None:
            return sl, 0
        return np.concatenate([self.pairs.trigger[sl], self.pairs.target[sl]]), len(sl)
