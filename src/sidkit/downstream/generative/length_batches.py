"""Training batches of similar history length, in random order.

Most prefixes in a leave-one-out split are short (on Beauty two thirds of the 20 history slots are
padding), so a batch trimmed to its own longest history costs a fraction of a full-width one. Sorting
by length with random tie-breaks and shuffling the batch order keeps every epoch a random pass over
all examples. Only for models that mask padded keys (TIGER's encoder does): SASRec's causal blocks
let real positions attend to padding, so cutting padding would change its answers, and it keeps
full-width batches.
"""

from __future__ import annotations

import numpy as np


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index arrays covering every example once; each holds examples of (nearly) the same length."""
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def history_lengths(history: np.ndarray) -> np.ndarray:
    """[M] real items in each left-padded (−1) history row."""
    return (history >= 0).sum(1)
