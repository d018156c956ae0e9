"""How gradients cross the non-differentiable nearest-codeword step of a vector quantizer.

Both return a tensor whose forward value is the codeword ``e`` and whose backward pass reaches the
encoder output ``r``:

- ``straight_through``: ∂e/∂r = I (van den Oord et al. 2017): the gradient at e is copied to r.
- ``rotation_trick`` (Fifty et al. 2024, §4.2): e is written as a rotation + rescaling of r, with the
  rotation and the scale treated as constants, so the gradient at e is rotated back to r's direction.
  Codewords on the far side of r then push r differently from codewords close to it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def straight_through(r: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    return r + (e - r).detach()


def rotation_trick(r: torch.Tensor, e: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    r_norm = r.norm(dim=-1, keepdim=True).clamp_min(eps)
    e_norm = e.norm(dim=-1, keepdim=True).clamp_min(eps)
    u = (r / r_norm).detach()
    q = (e / e_norm).detach()
    w = F.normalize(u + q, dim=-1, eps=eps)
    # R r with R = I − 2wwᵀ + 2quᵀ (the rotation taking u to q), computed without forming R
    rotated = r - 2 * (r * w).sum(-1, keepdim=True) * w + 2 * (r * u).sum(-1, keepdim=True) * q
    return rotated * (e_norm / r_norm).detach()


GRADIENT_ESTIMATORS = {"ste": straight_through, "rotation": rotation_trick}
