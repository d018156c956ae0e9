"""RQ-VAE's reconstruction term: squared error summed over features, averaged over rows.

Summed, not averaged, over features: with a mean the term shrinks by the input dimension (384 for
MiniLM) and the commitment loss dominates, a known bug of public RQ-VAE code (METHODS.md).
"""

from __future__ import annotations

import torch


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    return ((x - x_hat) ** 2).sum(-1).mean()
