"""Baseline ``rq-kmeans``: residual k-means straight on the raw content embeddings (no collaborative signal).

``balance=True`` (``--balance``): each level's clusters near-equal in size by Sinkhorn-balanced assignment
(quantize/sinkhorn.py), ``balance_iters`` rounds after faiss's k-means, entropy ``epsilon`` × the mean
cost. Our choices: 1 round, ε = 0.05 (BENCHMARKS.md: on Beauty 14.3 ± 0.6% collisions at 1.8× the plain
fit; in a one-seed probe 3 rounds gave 16.4%, with a lower MSE).
"""

from __future__ import annotations

import numpy as np

from sidkit.collab.item_pairs import ItemPairs
from sidkit.methods.base import Tokenizer
from sidkit.params import at_least, positive
from sidkit.quantize.residual_kmeans import ResidualKMeans


class RQKMeans(Tokenizer):
    method = "rq-kmeans"
    constraints = {"niter": at_least(1), "balance_iters": at_least(0), "epsilon": positive}
    param_help = {"balance": "near-equal cluster sizes at every level (Sinkhorn)"}

    def __init__(self, levels: int = 3, codebook_size: int = 256, niter: int = 20, seed: int = 0,
                 balance: bool = False, balance_iters: int = 1, epsilon: float = 0.05) -> None:
        self.levels = levels
        self.codebook_size = codebook_size
        self.niter = niter
        self.seed = seed
        self.balance = balance
        self.balance_iters = balance_iters
        self.epsilon = epsilon

    def _quantizer(self) -> ResidualKMeans:
        return ResidualKMeans(self.levels, self.codebook_size, self.niter, self.seed, self.balance, self.balance_iters,
                              self.epsilon)

    def fit(self, x: np.ndarray, pairs: ItemPairs | None = None) -> "RQKMeans":
        self.rq_ = self._quantizer().fit(x)
        self.labels_ = self.rq_.labels_
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self.rq_.encode(x)

    def candidates(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rq_.candidates(x, k)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return self.rq_.decode(np.asarray(codes, dtype=np.int64))

    def _tensors(self) -> dict[str, np.ndarray]:
        prices = {} if self.rq_.prices_ is None else {"prices": np.stack(self.rq_.prices_)}
        return {"codebooks": np.stack(self.rq_.codebooks_), **prices}

    def _restore(self, tensors: dict[str, np.ndarray]) -> None:
        if self.balance and "prices" not in tensors:
            raise ValueError("a balanced model without its code prices")
        self.rq_ = self._quantizer().restore(tensors["codebooks"], tensors.get("prices"))
