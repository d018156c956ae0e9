"""The RQ-VAE network (TIGER's tokenizer): encoder MLP → residual VQ → decoder MLP.

    x [d_in] → 512 → 256 → 128 → z [32] → ResidualVQ (3 × 256) → ẑ → 128 → 256 → 512 → x̂ [d_in]
"""

from __future__ import annotations

import torch
from torch import nn

from sidkit.quantize.residual_vq import Quantized, ResidualVQ


def mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # no activation on the output


class RQVAENetwork(nn.Module):
    def __init__(self, d_in: int, hidden: list[int], dim: int = 32, levels: int = 3, codebook_size: int = 256,
                 beta: float = 0.25, gradient: str = "ste") -> None:
        super().__init__()
        self.encoder = mlp([d_in, *hidden, dim])
        self.quantizer = ResidualVQ(levels, codebook_size, dim, beta, gradient)
        self.decoder = mlp([dim, *reversed(hidden), d_in])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Quantized]:
        z = self.encoder(x)
        q = self.quantizer(z)
        return self.decoder(q.z_q), z, q
