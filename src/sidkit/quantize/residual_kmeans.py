"""Residual k-means (QARM Algorithm 1; the RQ-KMeans baseline): level l clusters what levels < l left over.

    R¹ = KMeans(M),   M¹ = M − nearest(M, R¹)
    R² = KMeans(M¹),  M² = M¹ − nearest(M¹, R²),  ...

Codebooks are frozen after ``fit``; ``encode`` assigns codes to any vectors greedily, level by level.
"""

from __future__ import annotations

import faiss
import numpy as np

from sidkit.data.embedding_matrix import as_matrix
from sidkit.quantize.kmeans import kmeans_centroids, nearest
from sidkit.quantize.residual import residual_walk


class ResidualKMeans:
    """After ``fit``: ``codebooks_`` [L, K, d] and ``labels_`` [N, L] (codes of the fitted rows)."""

    def __init__(self, levels: int = 3, codebook_size: int | list[int] = 256, niter: int = 20, seed: int = 0) -> None:
        self.levels = levels
        self.codebook_size = codebook_size
        self.niter = niter
        self.seed = seed

    @property
    def codebook_sizes(self) -> list[int]:
        k = self.codebook_size
        return list(k) if isinstance(k, (list, tuple)) else [int(k)] * self.levels

    def fit(self, x: np.ndarray) -> "ResidualKMeans":
        sizes = self.codebook_sizes
        walk = residual_walk(as_matrix(x), lambda level, r: kmeans_centroids(r, sizes[level], niter=self.niter,
                                                                             seed=self.seed + level),
                             nearest, len(sizes))
        self.codebooks_ = walk.codebooks
        self.labels_ = np.stack(walk.codes, axis=1)
        return self

    def restore(self, codebooks: np.ndarray) -> "ResidualKMeans":
        """Frozen codebooks from a saved model, checked against the sizes this quantizer was built with
        (a codebook of 512 rows in a 256-code model would hand out codes no table can hold)."""
        books = list(codebooks) if np.ndim(codebooks) == 3 else []
        want = self.codebook_sizes
        if len(books) != len(want) or [len(c) for c in books] != want:
            raise ValueError(f"codebooks of shape {list(np.shape(codebooks))}; expected {len(want)} levels of "
                             f"{want[0] if len(set(want)) == 1 else want} codes (config levels, codebook_size)")
        if not all(np.isfinite(c).all() for c in books):
            raise ValueError("codebooks hold NaN or inf; expected finite codewords")
        self.codebooks_ = books
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return np.stack(residual_walk(as_matrix(x), self.codebooks_, nearest).codes, axis=1)

    def candidates(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Codes [N, L] and the ``k`` last-level codes nearest to each row's last residual [N, k], nearest
        first (column 0 is the code ``encode`` picks): where collision handling may move an item."""
        walk = residual_walk(as_matrix(x), self.codebooks_, nearest, len(self.codebooks_) - 1)
        last = np.ascontiguousarray(self.codebooks_[-1], dtype=np.float32)
        index = faiss.IndexFlatL2(last.shape[1])
        index.add(last)
        _, cand = index.search(walk.residual, min(k, len(last)))
        return np.stack(walk.codes + [cand[:, 0].astype(np.int64)], axis=1), cand.astype(np.int64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Sum of the chosen codewords: the quantised vector."""
        return sum(c[codes[:, level]] for level, c in enumerate(self.codebooks_))
