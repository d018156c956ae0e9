"""Residual k-means (QARM Algorithm 1; the RQ-KMeans baseline): level l clusters what levels < l left over.

    R¹ = KMeans(M),   M¹ = M − nearest(M, R¹)
    R² = KMeans(M¹),  M² = M¹ − nearest(M¹, R²),  ...

Codebooks are frozen after ``fit``; ``encode`` assigns codes to any vectors greedily, level by level.

``balance=True`` makes each level's clusters near-equal in size (LC-Rec's uniform mapping, by Sinkhorn;
quantize/sinkhorn.py): after faiss's k-means, ``balance_iters`` rounds of balanced assignment + centroid
means. A level then keeps a price per code, and every later assignment (``encode``, ``candidates``) takes
the cheapest code after prices: the fitted rows' codes are reproduced and new rows are spread the same way.
"""

from __future__ import annotations

import numpy as np
import torch

from sidkit.data.embedding_matrix import as_matrix
from sidkit.quantize.kmeans import kmeans_centroids, nearest
from sidkit.quantize.residual import residual_walk
from sidkit.quantize.sinkhorn import priced_nearest, sinkhorn_prices, squared_distances


class ResidualKMeans:
    """After ``fit``: ``codebooks_`` [L, K, d] and ``labels_`` [N, L] (codes of the fitted rows)."""

    def __init__(self, levels: int = 3, codebook_size: int | list[int] = 256, niter: int = 20, seed: int = 0,
                 balance: bool = False, balance_iters: int = 1, epsilon: float = 0.05) -> None:
        self.levels = levels
        self.codebook_size = codebook_size
        self.niter = niter
        self.seed = seed
        self.balance = balance
        self.balance_iters = balance_iters
        self.epsilon = epsilon
        self.prices_: list[np.ndarray] | None = None  # per level, when balanced

    @property
    def codebook_sizes(self) -> list[int]:
        k = self.codebook_size
        return list(k) if isinstance(k, (list, tuple)) else [int(k)] * self.levels

    def fit(self, x: np.ndarray) -> "ResidualKMeans":
        self.prices_ = [] if self.balance else None
        walk = residual_walk(as_matrix(x), self._learn, self._pick, len(self.codebook_sizes))
        self.codebooks_ = walk.codebooks
        self.labels_ = np.stack(walk.codes, axis=1)
        return self

    def _learn(self, level: int, r: np.ndarray) -> np.ndarray:
        """Level ``level``'s codebook from its residuals (and, balanced, its prices)."""
        k = self.codebook_sizes[level]
        c = kmeans_centroids(r, k, niter=self.niter, seed=self.seed + level)
        if not self.balance:
            return c
        prices = None
        for _ in range(self.balance_iters):
            prices = sinkhorn_prices(squared_distances(r, c), self.epsilon, start=prices)
            idx = priced_nearest(r, c, prices)
            sums = torch.zeros(c.shape, dtype=torch.float64).index_add_(0, torch.from_numpy(idx),
                                                                         torch.from_numpy(r).double()).numpy()
            counts = np.bincount(idx, minlength=k)
            filled = counts > 0  # an empty cluster keeps its centroid (prices rarely leave one empty)
            c = c.copy()
            c[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
        self.prices_.append(sinkhorn_prices(squared_distances(r, c), self.epsilon, start=prices))
        return c

    def _pick(self, r: np.ndarray, c: np.ndarray, level: int) -> np.ndarray:
        return nearest(r, c) if self.prices_ is None else priced_nearest(r, c, self.prices_[level])

    def restore(self, codebooks: np.ndarray, prices: np.ndarray | None = None) -> "ResidualKMeans":
        """Frozen codebooks from a saved model, checked against the sizes this quantizer was built with
        (a codebook of 512 rows in a 256-code model would hand out codes no table can hold)."""
        books = list(codebooks) if np.ndim(codebooks) == 3 else []
        want = self.codebook_sizes
        if len(books) != len(want) or [len(c) for c in books] != want:
            raise ValueError(f"codebooks of shape {list(np.shape(codebooks))}; expected {len(want)} levels of "
                             f"{want[0] if len(set(want)) == 1 else want} codes (config levels, codebook_size)")
        if not all(np.isfinite(c).all() for c in books):
            raise ValueError("codebooks hold NaN or inf; expected finite codewords")
        if prices is not None and np.shape(prices) != (len(want), want[0]):
            raise ValueError(f"prices of shape {list(np.shape(prices))}; expected one per code of each level")
        self.codebooks_ = books
        self.prices_ = None if prices is None else [np.asarray(p, dtype=np.float64) for p in prices]
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return np.stack(residual_walk(as_matrix(x), self.codebooks_, self._pick).codes, axis=1)

    def candidates(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Codes [N, L] and the ``k`` last-level codes nearest to each row's last residual [N, k], nearest
        first (column 0 is the code ``encode`` picks): where collision handling may move an item."""
        walk = residual_walk(as_matrix(x), self.codebooks_, self._pick, len(self.codebooks_) - 1)
        last = np.ascontiguousarray(self.codebooks_[-1], dtype=np.float32)
        k = min(k, len(last))
        if self.prices_ is not None:
            cand = priced_nearest(walk.residual, last, self.prices_[-1], k=k)
        else:
            cand = nearest(walk.residual, last, k=k).reshape(len(walk.residual), k)
        return np.stack(walk.codes + [cand[:, 0]], axis=1), cand

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Sum of the chosen codewords: the quantised vector."""
        return sum(c[codes[:, level]] for level, c in enumerate(self.codebooks_))
