"""Orthogonality between two parts of a representation (ICDM: interest ⊥ conformity, content ⊥ popularity).

The mean over rows of the squared cosine of the two parts: 0 when every row's parts are orthogonal,
1 when they are parallel, and blind to scale, so a part cannot satisfy it by shrinking.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def orthogonality(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (F.cosine_similarity(a, b, dim=-1, eps=1e-8) ** 2).mean()
