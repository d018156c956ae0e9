"""LETTER's diversity regularisation: spread the codewords so that assignments do not pile onto a few.

Every ``recluster_every`` steps each level's codewords are grouped into ``n_clusters`` clusters of
near-equal size (sidkit's balanced k-means: quantize/residual_kmeans.py with one level; LETTER uses
size-constrained k-means for the same end). Then, for every row and level, the codeword the row picked
should score a random *other* codeword of its own cluster above every codeword outside it:

    L_div = Σ_l  CE( e_l(c) · E_lᵀ  (own column removed),  a random c' ≠ c in cluster(c) )

so codewords gather in groups and the groups push each other apart, which is how LETTER keeps the
codebook from collapsing onto the dense part of the space. The gradient reaches the codebooks only.

Constants, all written down: weight 1e-4 and 10 clusters (LETTER's β and cluster count), reclustering
every 10 steps (LETTER reclusters once per epoch; 10 steps of 1,024 rows is about one epoch of Beauty's
12k items); a codebook of K < 20 codes gets K // 2 clusters. The random partner is drawn from
(seed, step), so a resumed run draws the same partners; a resume at a step that is not a multiple of
``recluster_every`` reclusters there.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sidkit.objectives.base import Batch, Objective, TrainingContext
from sidkit.quantize.residual_kmeans import ResidualKMeans


def balanced_clusters(points: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """Cluster labels [N] with near-equal cluster sizes: one level of balanced k-means."""
    km = ResidualKMeans(1, n_clusters, seed=seed, balance=True).fit(np.ascontiguousarray(points, dtype=np.float32))
    return km.labels_[:, 0]


def cluster_partners(labels: np.ndarray, codes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each code in ``codes`` [B], a random other code of its cluster (−1 where it is alone in it)."""
    labels_t = torch.from_numpy(labels)
    order = torch.argsort(labels_t, stable=True)            # codes grouped by cluster
    sizes = torch.bincount(labels_t, minlength=int(labels.max()) + 1)
    starts = torch.cumsum(sizes, 0) - sizes
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order)) - starts[labels_t[order]]   # each code's place in its cluster
    g, n = labels_t[codes], sizes[labels_t[codes]]
    draw = (torch.rand(len(codes), generator=generator) * (n - 1).clamp_min(1)).long()
    draw = draw + (draw >= rank[codes]).long()              # skip the code itself
    partner = order[(starts[g] + draw.clamp_max(n - 1))]
    return torch.where(n > 1, partner, torch.full_like(partner, -1))


class CodeDiversity(Objective):
    name = "code_diversity"

    def __init__(self, weight: float = 1e-4, n_clusters: int = 10, recluster_every: int = 10) -> None:
        if n_clusters < 2:
            raise ValueError(f"n_clusters {n_clusters}; expected at least 2")
        if recluster_every < 1:
            raise ValueError(f"recluster_every {recluster_every}; expected at least 1")
        self.weight = weight
        self.n_clusters = n_clusters
        self.recluster_every = recluster_every

    def start(self, context: TrainingContext) -> None:
        quantizer = context.net.quantizer
        if quantizer.codebook_size < 4:
            raise ValueError(f"{quantizer.codebook_size} codes a level; expected at least 4 to form clusters")
        # a cluster of one code has no partner: small codebooks get fewer clusters, two codes or more each
        self._n_clusters = min(self.n_clusters, quantizer.codebook_size // 2)
        self._codebooks = quantizer.codebooks
        self._seed = context.seed
        self._labels: list[np.ndarray] | None = None

    def __call__(self, batch: Batch, z: torch.Tensor, z_q: torch.Tensor, codes: torch.Tensor,
                 step: int) -> dict[str, torch.Tensor]:
        if not hasattr(self, "_codebooks"):
            raise ValueError("code_diversity was not started; expected start(context) with the network")
        books = self._codebooks
        if self._labels is None or step % self.recluster_every == 0:
            self._labels = [balanced_clusters(books[level].detach().numpy(), self._n_clusters,
                                             self._seed + level)
                            for level in range(books.shape[0])]
        g = torch.Generator().manual_seed(self._seed * 1_000_003 + step)
        loss = z.new_zeros(())
        for level, labels in enumerate(self._labels):
            c = codes[:, level]
            target = cluster_partners(labels, c, g)
            keep = target >= 0
            if not keep.any():  # every row's code alone in its cluster: nothing to pull towards
                continue
            e = books[level].index_select(0, c[keep])
            sim = (e @ books[level].T).scatter(1, c[keep][:, None], float("-inf"))
            loss = loss + F.cross_entropy(sim, target[keep])
        return {"code_diversity": self.weight * loss}
