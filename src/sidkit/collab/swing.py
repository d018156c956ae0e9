"""Swing item2item similarity (Alibaba): two items are similar when *pairs of users* both took them, and
a user pair counts more the less else they share (so a few heavy users cannot make every item similar).

    sim(i, j) = Σ_{u<v ∈ U_i ∩ U_j} w_u · w_v / (α + |I_u ∩ I_v|),   w_u = 1 / sqrt(|I_u|)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from tqdm.auto import trange

from sidkit.collab.cooccurrence import top_k_per_row
from sidkit.collab.item_pairs import ItemPairs
from sidkit.data.types import Interactions


def swing_scores(
    train: Interactions, alpha: float = 1.0, max_users_per_item: int = 200, seed: int = 0, progress: bool = False
) -> sp.csr_matrix:
    """Sparse item × item Swing scores. Popular items use a seeded sample of their users (cost is quadratic)."""
    rng = np.random.default_rng(seed)
    a = sp.csr_matrix(
        (np.ones(len(train), dtype=np.float32), (train.users, train.items)), shape=(train.n_users, train.n_items)
    )
    a.data[:] = 1.0  # repeated events count once
    a.sum_duplicates()
    a.data[:] = 1.0
    user_len = np.asarray(a.sum(axis=1)).ravel()
    w = 1.0 / np.sqrt(np.maximum(user_len, 1.0))
    overlap = (a @ a.T).tocsr()  # |I_u ∩ I_v|
    at = a.T.tocsr()
    rows, cols, vals = [], [], []
    for i in trange(train.n_items, desc="Swing", unit="item", disable=not progress, leave=False):
        users = at.indices[at.indptr[i]:at.indptr[i + 1]]
        if len(users) < 2:
            continue
        if len(users) > max_users_per_item:
            users = np.sort(rng.choice(users, max_users_per_item, replace=False))
        pair_w = overlap[users][:, users].toarray()
        pair_w = np.outer(w[users], w[users]) / (alpha + pair_w)
        np.fill_diagonal(pair_w, 0.0)
        sub = a[users]  # |users| × items, sparse
        cand = np.unique(sub.indices)
        dense = sub[:, cand].toarray()
        score = 0.5 * ((pair_w @ dense) * dense).sum(axis=0)
        score[cand == i] = 0.0
        nz = score > 0
        rows.append(np.full(int(nz.sum()), i))
        cols.append(cand[nz])
        vals.append(score[nz])
    if not rows:
        return sp.csr_matrix((train.n_items, train.n_items), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(train.n_items, train.n_items)
    )


def swing_pairs(
    train: Interactions, alpha: float = 1.0, top_k: int = 10, max_users_per_item: int = 200, seed: int = 0,
    progress: bool = False
) -> ItemPairs:
    s = swing_scores(train, alpha, max_users_per_item, seed, progress).tocoo()
    pick = top_k_per_row(s.row.astype(np.int64), s.col.astype(np.int64), s.data.astype(np.float64), top_k)
    return ItemPairs.of(s.row[pick], s.col[pick], "swing")
