"""QARM (Kuaishou): align content to collaborative pairs, then two kinds of code on the aligned space M.

- RQ code (``labels_``, ``encode``): residual k-means on M, L levels × K codes (paper: 6 levels; default
  here 3 × 256 so it compares with the other methods).
- VQ code (``vq_codes_``, ``vq_encode``): indices of the top-K most similar fitted items in M (paper K=25).

Both are meant as learnable features of a ranking model (downstream/), not as a unique identifier;
the SID table still appends a disambiguation level so they can serve as one.
"""

from __future__ import annotations

import numpy as np
import torch

from sidkit.collab.item_pairs import ItemPairs
from sidkit.collab.near_duplicate_pairs import drop_near_duplicate_pairs
from sidkit.content.fusion import l2_normalize
from sidkit.data.embedding_matrix import as_matrix
from sidkit.errors import SidkitError
from sidkit.methods.alignment_head import AlignmentHead, apply_head, train_alignment
from sidkit.methods.base import Tokenizer
from sidkit.quantize.residual_kmeans import ResidualKMeans
from sidkit.quantize.topk_codes import topk_codes


class QARM(Tokenizer):
    method = "qarm"
    needs_pairs = True

    def __init__(self, levels: int = 3, codebook_size: int = 256, vq_k: int = 25, hidden: int = 512,
                 epochs: int = 20, batch_size: int = 1024, lr: float = 1e-3, temperature: float = 0.07,
                 niter: int = 20, drop_duplicates: float | None = None, hard_negatives: int = 0,
                 hard_negative_pool: int = 50, seed: int = 0) -> None:
        self.levels = levels
        self.codebook_size = codebook_size
        self.vq_k = vq_k
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.temperature = temperature
        self.niter = niter
        self.drop_duplicates = drop_duplicates  # content cosine at which a pair teaches nothing (near_duplicate_pairs)
        self.hard_negatives = hard_negatives  # per pair, content neighbours never clicked with it (hard_negatives.py)
        self.hard_negative_pool = hard_negative_pool
        self.seed = seed

    def fit(self, x: np.ndarray, pairs: ItemPairs | None = None) -> "QARM":
        if pairs is None:
            raise SidkitError("qarm needs item pairs mined from interactions")
        x = as_matrix(x)
        if self.hard_negatives < 0:
            raise SidkitError(f"hard_negatives {self.hard_negatives}; expected 0 (off) or a count per pair")
        if self.drop_duplicates is not None:
            pairs = drop_near_duplicate_pairs(pairs, l2_normalize(x), self.drop_duplicates)
        self.head_, self.history_ = train_alignment(
            x, pairs, hidden=self.hidden, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            temperature=self.temperature, hard_negatives=self.hard_negatives,
            hard_negative_pool=self.hard_negative_pool, seed=self.seed,
        )
        self.aligned_ = apply_head(self.head_, x)
        self.rq_ = ResidualKMeans(self.levels, self.codebook_size, self.niter, self.seed).fit(self.aligned_)
        self.labels_ = self.rq_.labels_
        self.vq_codes_ = topk_codes(self.aligned_, self.aligned_, self.vq_k, exclude_self=True)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The aligned representation M (unit norm)."""
        return apply_head(self.head_, as_matrix(x))

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self.rq_.encode(self.transform(x))

    def candidates(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rq_.candidates(self.transform(x), k)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Points of the aligned space M (the head cannot be inverted back to content)."""
        return self.rq_.decode(np.asarray(codes, dtype=np.int64))

    def decode_target(self, x: np.ndarray) -> np.ndarray:
        return self.transform(x)

    def vq_encode(self, x: np.ndarray) -> np.ndarray:
        """VQ codes of new items: their top-K most similar fitted items."""
        return topk_codes(self.transform(x), self.aligned_, self.vq_k)

    def _tensors(self) -> dict[str, np.ndarray]:
        t = {f"head.{k}": v.numpy() for k, v in self.head_.state_dict().items()}
        t["codebooks"] = np.stack(self.rq_.codebooks_)
        t["aligned"] = self.aligned_
        return t

    def _restore(self, tensors: dict[str, np.ndarray]) -> None:
        self.aligned_ = tensors["aligned"]
        self.head_ = AlignmentHead(self.aligned_.shape[1], self.hidden)
        self.head_.load_state_dict({k[5:]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith("head.")})
        self.head_.eval()
        self.rq_ = ResidualKMeans(self.levels, self.codebook_size, self.niter, self.seed).restore(tensors["codebooks"])
