"""Residual vector quantizer (RQ-VAE's bottleneck): L levels of K learnable codewords.

Level l picks the codeword nearest to what levels < l left over; the quantized vector is the sum of the
picked codewords. Codewords learn from the codebook loss ‖sg(r_l) − e_l‖², the encoder is held near its
codewords by β‖r_l − sg(e_l)‖² (β = 0.25), and the reconstruction gradient crosses the argmin through a
gradient estimator applied once to the total (straight-through, or the rotation trick).

Collapse is the known failure, so: codebooks start from residual k-means on encoder outputs
(``init_from``), and codewords no item picked since the last check are moved onto residuals of the
current batch (``restart_dead``). Squared errors are summed over the code dimension, like the
reconstruction, so neither term silently dominates the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sidkit.quantize.gradient_estimators import GRADIENT_ESTIMATORS
from sidkit.quantize.residual import residual_walk
from sidkit.quantize.residual_kmeans import ResidualKMeans
from sidkit.quantize.sinkhorn import priced_nearest, sinkhorn_prices, squared_distances


@dataclass
class Quantized:
    z_q: torch.Tensor                 # [B, D] sum of codewords, gradient reaches the encoder
    codes: torch.Tensor               # [B, L] int64
    residuals: list[torch.Tensor]     # input of each level (detached), for dead-code restarts
    losses: dict[str, torch.Tensor]   # "codebook", "commitment"


class ResidualVQ(nn.Module):
    def __init__(self, levels: int = 3, codebook_size: int = 256, dim: int = 32, beta: float = 0.25,
                 gradient: str = "ste") -> None:
        super().__init__()
        if gradient not in GRADIENT_ESTIMATORS:
            raise ValueError(f"gradient {gradient!r}; expected one of {', '.join(GRADIENT_ESTIMATORS)}")
        self.levels, self.codebook_size, self.dim, self.beta = levels, codebook_size, dim, beta
        self.estimator = GRADIENT_ESTIMATORS[gradient]
        self.codebooks = nn.Parameter(torch.randn(levels, codebook_size, dim) * 0.01)
        self.register_buffer("usage", torch.zeros(levels, codebook_size))  # picks since the last restart
        self.prices: dict[int, np.ndarray] = {}  # levels balanced after training (``balance``): code prices

    @staticmethod
    def _nearest(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # ‖r‖² is the same for every codeword, so argmin ‖r − c‖² = argmin (‖c‖² − 2 r·c)
        return ((c * c).sum(-1) - 2 * r @ c.T).argmin(-1)

    def forward(self, z: torch.Tensor) -> Quantized:
        total, codebook, commitment = torch.zeros_like(z), z.new_zeros(()), z.new_zeros(())

        def losses(level: int, residual: torch.Tensor, idx: torch.Tensor) -> None:
            nonlocal total, codebook, commitment
            # not c[idx]: its backward (index_put with accumulate) sums in a thread-dependent order on
            # CPU, and the same seed then gave different SIDs; index_select's backward does not
            e = self.codebooks[level].index_select(0, idx)
            codebook = codebook + ((residual.detach() - e) ** 2).sum(-1).mean()
            commitment = commitment + ((residual - e.detach()) ** 2).sum(-1).mean()
            if self.training:
                self.usage[level] += torch.bincount(idx, minlength=self.codebook_size).to(self.usage.dtype)
            total = total + e.detach()

        # the walk sees detached codebooks: the residuals carry gradient to the encoder only
        walk = residual_walk(z, lambda level, _: self.codebooks[level].detach(),
                             lambda r, c, _: self._nearest(r.detach(), c), self.levels, keep_inputs=True,
                             visit=losses)
        z_q = self.estimator(z, total)
        return Quantized(z_q, torch.stack(walk.codes, 1), [r.detach() for r in walk.inputs],
                         {"codebook": codebook, "commitment": self.beta * commitment})

    def _pick(self, r: torch.Tensor, c: torch.Tensor, level: int, k: int | None = None) -> torch.Tensor:
        """The nearest code [B] (with ``k``: the k nearest [B, k]), after the level's prices if it was balanced."""
        if level in self.prices:
            out = torch.from_numpy(priced_nearest(r.detach().numpy(), c.detach().numpy(), self.prices[level], k=k or 1))
            return out if k is None else out.reshape(len(r), -1)
        if k is None:
            return self._nearest(r, c)
        return ((c * c).sum(-1) - 2 * r @ c.T).topk(k, dim=-1, largest=False).indices

    @torch.no_grad()
    def encode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.stack(residual_walk(z, self.codebooks, self._pick).codes, 1)

    @torch.no_grad()
    def candidates(self, z: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes [B, L] and the ``k`` last-level codes nearest to each last residual [B, k], nearest first."""
        walk = residual_walk(z, self.codebooks, self._pick, self.levels - 1)
        cand = self._pick(walk.residual, self.codebooks[-1], self.levels - 1, k=min(k, self.codebook_size))
        return torch.stack(walk.codes + [cand[:, 0]], 1), cand

    @torch.no_grad()
    def balance(self, z: torch.Tensor, levels: list[int], epsilon: float = 0.05) -> None:
        """Sinkhorn prices for ``levels`` from the residuals of rows ``z`` (the catalogue), level by level:
        after training, so the codes spread evenly over those levels' codebooks (LC-Rec's uniform mapping
        of the last level; quantize/sinkhorn.py). Training itself is unchanged."""
        self.prices = {}

        def pick(r: torch.Tensor, c: torch.Tensor, level: int) -> torch.Tensor:
            if level in levels:
                self.prices[level] = sinkhorn_prices(squared_distances(r.numpy(), c.numpy()), epsilon)
            return self._pick(r, c, level)

        residual_walk(z, self.codebooks.detach(), pick)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return sum(self.codebooks[level][codes[:, level]] for level in range(self.levels))

    @torch.no_grad()
    def init_from(self, z: np.ndarray, seed: int = 0, niter: int = 20) -> None:
        """Codebooks = residual k-means on encoder outputs (seeded faiss)."""
        rq = ResidualKMeans(self.levels, self.codebook_size, niter, seed).fit(z)
        self.codebooks.copy_(torch.from_numpy(np.stack(rq.codebooks_)))
        self.usage.zero_()

    @torch.no_grad()
    def restart_dead(self, residuals: list[torch.Tensor], generator: torch.Generator) -> int:
        """Move every codeword unused since the last call onto a random residual of this batch.

        Returns how many were moved. Resets the usage counts.
        """
        moved = 0
        for level, r in enumerate(residuals):
            dead = torch.nonzero(self.usage[level] == 0).flatten()
            if len(dead):
                pick = torch.randint(len(r), (len(dead),), generator=generator)
                self.codebooks[level, dead] = r[pick]
                moved += len(dead)
        self.usage.zero_()
        return moved
