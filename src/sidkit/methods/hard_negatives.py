"""Hard negatives for pair alignment: items whose text is close to the trigger's, but that no user
clicked with it.

In-batch negatives are random items, mostly far from the trigger in content already, so the alignment
mostly learns what the text knew. A content neighbour that is not a mined positive is the negative that
teaches the aligned space to follow clicks where they disagree with the text: exactly what codes built
on that space should add over raw content codes (issue 18).

Choices [the QARM paper uses in-batch negatives only]: candidates are the trigger's ``pool`` nearest items
by content cosine (faiss, exact), minus every item mined as its positive in either direction; each
step draws ``k`` of them uniformly per row. The nearest few are left in: a near-duplicate that users do
not click together is information, not noise.
"""

from __future__ import annotations

import numpy as np
import torch

from sidkit.collab.item_pairs import ItemPairs
from sidkit.errors import SidkitError
from sidkit.quantize.topk_codes import topk_codes


class HardNegatives:
    """``sample(anchors, k, generator)`` → [B, k] item indices, −1 where an anchor has fewer than k."""

    def __init__(self, x: np.ndarray, pairs: ItemPairs, pool: int = 50) -> None:
        if pool < 1:
            raise SidkitError(f"hard_negative_pool {pool}; expected at least 1 neighbour")
        n = len(x)
        neighbours = topk_codes(x, x, pool, exclude_self=True)
        positive = np.unique(np.concatenate([pairs.trigger * n + pairs.target, pairs.target * n + pairs.trigger]))
        self.allowed = torch.from_numpy(~np.isin(np.arange(n)[:, None] * n + neighbours, positive))
        self.neighbours = torch.from_numpy(neighbours)

    def sample(self, anchors: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        allowed = self.allowed[anchors]
        # random scores, forbidden columns last: the top k are k distinct allowed neighbours where there are k
        score = torch.rand(allowed.shape, generator=generator).masked_fill(~allowed, -1.0)
        top = score.topk(min(k, score.shape[1]), dim=1)
        picked = self.neighbours[anchors].gather(1, top.indices)
        return picked.masked_fill(top.values < 0, -1)
