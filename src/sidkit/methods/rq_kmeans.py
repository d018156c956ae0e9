"""Baseline ``rq-kmeans``: residual k-means straight on the raw content embeddings (no collaborative signal)."""

from __future__ import annotations

import numpy as np

from sidkit.collab.item_pairs import ItemPairs
from sidkit.methods.base import Tokenizer
from sidkit.quantize.residual_kmeans import ResidualKMeans


class RQKMeans(Tokenizer):
    method = "rq-kmeans"

    def __init__(self, levels: int = 3, codebook_size: int = 256, niter: int = 20, seed: int = 0) -> None:
        self.levels = levels
        self.codebook_size = codebook_size
        self.niter = niter
        self.seed = seed

    def fit(self, x: np.ndarray, pairs: ItemPairs | None = None) -> "RQKMeans":
        self.rq_ = ResidualKMeans(self.levels, self.codebook_size, self.niter, self.seed).fit(x)
        self.labels_ = self.rq_.labels_
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self.rq_.encode(x)

    def candidates(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rq_.candidates(x, k)

    def _tensors(self) -> dict[str, np.ndarray]:
        return {"codebooks": np.stack(self.rq_.codebooks_)}

    def _restore(self, tensors: dict[str, np.ndarray]) -> None:
        self.rq_ = ResidualKMeans(self.levels, self.codebook_size, self.niter, self.seed).restore(tensors["codebooks"])
