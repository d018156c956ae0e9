"""QuaSID's Hamming-guided margin repulsion (HaMR): push apart items whose codes collide.

For valid pairs (``valid_pair_mask``) with Hamming distance H_ij between their codes and cosine
distance D_ij = 1 − cos(z_i, z_j) between their encoder outputs:

    full collisions     H = 0:        weight_full    · mean over the group of max(0, margin_full − D)
    partial collisions  0 < H ≤ R:    weight_partial · mean over the group of max(0, margin_partial − D)

Pairs that already collide are pushed in the continuous space, so the quantizer sees them further
apart at the next step. Only ``z`` and ``codes`` are read, so it attaches to any tokenizer that
produces both ("plug-and-play"). Defaults are METHODS.md's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sidkit.objectives.base import Batch, Objective
from sidkit.objectives.valid_pair_mask import valid_pair_mask


def hamming_distance(codes: torch.Tensor) -> torch.Tensor:
    """[R, R] number of levels at which two rows' codes differ."""
    return (codes[:, None, :] != codes[None, :, :]).sum(-1)


def group_hinge(distance: torch.Tensor, group: torch.Tensor, margin: float, eps: float = 1e-8) -> torch.Tensor:
    """Mean of max(0, margin − distance) over the pairs in ``group`` (0 for an empty group)."""
    hinge = F.relu(margin - distance) * group
    return hinge.sum() / (group.sum() + eps)


class HammingRepulsion(Objective):
    name = "hamr"

    def __init__(self, margin_full: float = 0.8, weight_full: float = 0.2, margin_partial: float = 0.5,
                 weight_partial: float = 0.1, radius: int = 1, cvpm: bool = True) -> None:
        self.margin_full = margin_full
        self.weight_full = weight_full
        self.margin_partial = margin_partial
        self.weight_partial = weight_partial
        self.radius = radius
        self.cvpm = cvpm

    def __call__(self, batch: Batch, z: torch.Tensor, z_q: torch.Tensor, codes: torch.Tensor,
                 step: int) -> dict[str, torch.Tensor]:
        valid = valid_pair_mask(batch.items, batch.n_pairs, self.cvpm)
        h = hamming_distance(codes)
        zn = F.normalize(z, dim=-1)
        d = 1 - zn @ zn.T
        full = (h == 0) & valid
        partial = (h > 0) & (h <= self.radius) & valid
        return {
            "hamr_full": self.weight_full * group_hinge(d, full.float(), self.margin_full),
            "hamr_partial": self.weight_partial * group_hinge(d, partial.float(), self.margin_partial),
            "n_hamr_full_pairs": full.sum().detach() / 2,      # unordered pairs
            "n_hamr_partial_pairs": partial.sum().detach() / 2,
        }
