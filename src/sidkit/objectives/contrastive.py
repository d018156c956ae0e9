"""In-batch contrastive loss (InfoNCE) with false-negative masking.

Row i of ``anchor`` should score its own ``positive`` above every other positive in the batch. A column
that is the same thing as the answer is not a negative and leaves the denominator: the same positive
item again, the anchor's own item, and (``same_anchor``) the positive of another row with the same
anchor item, which is a mined positive of this anchor too.

``PairContrastive`` is QuaSID's dual-tower term on pair batches (triggers → targets, one shared encoder).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sidkit.objectives.base import Batch, Objective


def false_negative_mask(anchor_ids: torch.Tensor, positive_ids: torch.Tensor,
                        same_anchor: bool = False) -> torch.Tensor:
    """[B, B] bool, True where column j may serve as a negative for row i (and on the diagonal)."""
    same = (positive_ids[None, :] == positive_ids[:, None]) | (positive_ids[None, :] == anchor_ids[:, None])
    if same_anchor:
        same |= anchor_ids[None, :] == anchor_ids[:, None]
    eye = torch.eye(len(anchor_ids), dtype=torch.bool, device=anchor_ids.device)
    return eye | ~same


def info_nce(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    anchor_ids: torch.Tensor | None = None,
    positive_ids: torch.Tensor | None = None,
    temperature: float = 0.07,
    symmetric: bool = True,
    same_anchor: bool = False,
    negatives: torch.Tensor | None = None,
    negative_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean InfoNCE over rows (both directions when ``symmetric``), on cosine similarity / temperature.

    ``negatives`` [B, k, d]: each anchor's own extra negatives (hard negatives), added to the anchor →
    positive direction only; ``negative_ids`` [B, k] mask the padding (−1) and any that is the row's
    positive or anchor item."""
    a = F.normalize(anchor, dim=-1)
    p = F.normalize(positive, dim=-1)
    logits = a @ p.T / temperature
    if anchor_ids is not None and positive_ids is not None:
        keep = false_negative_mask(anchor_ids, positive_ids, same_anchor)
        logits = logits.masked_fill(~keep, float("-inf"))
        logits_t = (p @ a.T / temperature).masked_fill(
            ~false_negative_mask(positive_ids, anchor_ids, same_anchor), float("-inf"))
    else:
        logits_t = logits.T
    if negatives is not None:
        extra = torch.einsum("bd,bkd->bk", a, F.normalize(negatives, dim=-1)) / temperature
        if negative_ids is not None:
            bad = negative_ids < 0
            if positive_ids is not None:
                bad |= negative_ids == positive_ids[:, None]
            if anchor_ids is not None:
                bad |= negative_ids == anchor_ids[:, None]
            extra = extra.masked_fill(bad, float("-inf"))
        logits = torch.cat([logits, extra], 1)
    target = torch.arange(len(a), device=a.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits_t, target))
    return loss


class PairContrastive(Objective):
    """InfoNCE from each trigger to its target, in-batch negatives, on ``z`` (or ``z_q``).

    Defaults (METHODS.md): τ = 0.07, weight 0.1, one direction (trigger → target), rows with the same
    trigger item removed from each other's denominators.
    """

    name = "contrastive"
    needs_pairs = True

    def __init__(self, weight: float = 0.1, temperature: float = 0.07, symmetric: bool = False,
                 space: str = "z") -> None:
        if space not in ("z", "z_q"):
            raise ValueError(f"space {space!r}; expected 'z' or 'z_q'")
        self.weight = weight
        self.temperature = temperature
        self.symmetric = symmetric
        self.space = space

    def __call__(self, batch: Batch, z: torch.Tensor, z_q: torch.Tensor, codes: torch.Tensor,
                 step: int) -> dict[str, torch.Tensor]:
        b = batch.n_pairs
        if b < 2:
            raise ValueError("the contrastive objective needs a pair batch with at least 2 pairs")
        v = z if self.space == "z" else z_q
        loss = info_nce(v[:b], v[b:2 * b], batch.items[:b], batch.items[b:2 * b], self.temperature,
                        self.symmetric, same_anchor=True)
        return {"contrastive": self.weight * loss}
