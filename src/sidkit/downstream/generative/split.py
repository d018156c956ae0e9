"""The P5/TIGER leave-one-out split for sequential retrieval, as padded arrays.

For each user's chronological sequence s_1..s_n: the last item is test (input s_1..s_{n−1}), the one
before it validation (input s_1..s_{n−2}), and every s_t with 2 ≤ t ≤ n − 2 a training target with input
s_1..s_{t−1}. Inputs keep the latest ``max_len`` items, left-padded with −1. Users with fewer than three
items have no validation/test example; their sequence still trains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sidkit.data.types import Interactions


@dataclass
class Examples:
    users: np.ndarray     # [M] user index
    history: np.ndarray   # [M, max_len] item indices, −1 pads on the left, latest last
    target: np.ndarray    # [M] item index

    def __len__(self) -> int:
        return len(self.target)


@dataclass
class SequenceSplit:
    train: Examples
    valid: Examples
    test: Examples
    n_items: int
    train_counts: np.ndarray  # [n_items] how often each item is a training target or input (popularity)


def _examples(seqs: list[np.ndarray], picks: list[tuple[int, int]], max_len: int) -> Examples:
    """One example per (user, t): history s[:t] (latest max_len), target s[t]."""
    hist = np.full((len(picks), max_len), -1, dtype=np.int64)
    users = np.empty(len(picks), dtype=np.int64)
    target = np.empty(len(picks), dtype=np.int64)
    for row, (u, t) in enumerate(picks):
        h = seqs[u][max(0, t - max_len):t]
        if len(h):
            hist[row, max_len - len(h):] = h
        users[row], target[row] = u, seqs[u][t]
    return Examples(users, hist, target)


def sequence_split(inter: Interactions, max_len: int = 20) -> SequenceSplit:
    seqs = inter.sequences()
    train, valid, test = [], [], []
    for u, s in enumerate(seqs):
        n = len(s)
        held = n >= 3
        last_train = n - 2 if held else n  # targets s_1..s_{n-3} (0-based 1..n-3) when two are held out
        train += [(u, t) for t in range(1, last_train)]
        if held:
            valid.append((u, n - 2))
            test.append((u, n - 1))
    counts = np.zeros(inter.n_items, dtype=np.int64)
    for s in seqs:
        seen = s[:len(s) - 2] if len(s) >= 3 else s
        np.add.at(counts, seen, 1)
    return SequenceSplit(_examples(seqs, train, max_len), _examples(seqs, valid, max_len),
                         _examples(seqs, test, max_len), inter.n_items, counts)


def most_popular(split: SequenceSplit, n_users: int, k: int = 10) -> np.ndarray:
    """[n_users, k] the same ranking for everyone: the items seen most often in training sequences."""
    top = np.argsort(-split.train_counts, kind="stable")[:k]
    return np.broadcast_to(top, (n_users, len(top))).copy()
