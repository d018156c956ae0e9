"""Item factors from training clicks alone: the collaborative part of an item's input (``--cf-input``).

Two kinds, both seeded:
- ``cooc``: item2vec's closed form. Skip-gram with negative sampling factorises a shifted PMI matrix
  (Levy & Goldberg, 2014), so the truncated SVD of the positive PMI of "clicked by the same user" gives
  the same kind of space without an SGD loop; items co-clicked by the same users end up close.
- ``bpr``: the BPR matrix factorisation sidkit already trains for QARM (collab/bpr.py).

An item is *warm* when the training clicks say something about it; the other rows are returned as zeros
for the caller to fill (collab/cf_input.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sidkit.collab.bpr import BPRMF
from sidkit.data.types import Interactions
from sidkit.errors import SidkitError

KINDS = ("cooc", "bpr")


def item_factors(train: Interactions, kind: str = "cooc", dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(factors [n_items, dim] float32, warm [n_items] bool)``; rows of cold items are zero."""
    if kind not in KINDS:
        raise SidkitError(f"--cf-input {kind!r}; expected one of {', '.join(KINDS)}")
    if dim < 1:
        raise SidkitError(f"--cf-dim {dim}; expected a positive number of dimensions")
    clicked = np.bincount(train.items, minlength=train.n_items) > 0
    if kind == "bpr":
        f = BPRMF(dim=dim, seed=seed).fit(train).item_factors_.astype(np.float32)
        warm = clicked  # an unclicked item's BPR row is its random initialisation: no signal
    else:
        f = ppmi_svd(train, dim, seed)
        warm = clicked & (np.abs(f).sum(axis=1) > 0)  # clicked only by users who clicked nothing else
    f[~warm] = 0.0
    return f, warm


def ppmi_svd(train: Interactions, dim: int, seed: int = 0) -> np.ndarray:
    """Rows of U·sqrt(S) from the rank-``dim`` SVD of the positive PMI of item co-clicks.

    Co-clicks count users, not click pairs (a user who clicked a and b twice counts once), so one heavy
    user cannot make two items neighbours."""
    n_items, n_users = train.n_items, train.n_users
    a = sp.csr_matrix((np.ones(len(train), np.float64), (train.users, train.items)), shape=(n_users, n_items))
    a.data[:] = 1.0  # duplicates were summed by the constructor: back to "clicked or not"
    c = (a.T @ a).tocoo()
    off = c.row != c.col
    rows, cols, counts = c.row[off], c.col[off], c.data[off]
    if len(counts) == 0:
        return np.zeros((n_items, dim), np.float32)
    degree = np.bincount(rows, weights=counts, minlength=n_items)
    pmi = np.log(counts * counts.sum() / (degree[rows] * degree[cols]))
    keep = pmi > 0
    m = sp.csr_matrix((pmi[keep], (rows[keep], cols[keep])), shape=(n_items, n_items))
    k = min(dim, n_items - 1)
    from sklearn.utils.extmath import randomized_svd

    u, s, _ = randomized_svd(m, k, n_iter=7, random_state=seed)
    u = _fix_signs(u)
    out = np.zeros((n_items, dim), np.float32)
    out[:, :k] = u * np.sqrt(s)
    return out


def _fix_signs(u: np.ndarray) -> np.ndarray:
    """SVD columns are defined up to sign: make each column's largest entry positive so that the same
    clicks give the same factors whatever the solver's rounding."""
    flip = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    flip[flip == 0] = 1.0
    return u * flip
