"""In-batch contrastive loss (InfoNCE) with false-negative masking.

Row i of ``anchor`` should score its own ``positive`` above every other positive in the batch. When the
batch holds the same positive item twice (or the anchor's own item among the positives), those columns
are the same thing as the answer, not negatives, and are removed from the denominator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def false_negative_mask(anchor_ids: torch.Tensor, positive_ids: torch.Tensor) -> torch.Tensor:
    """[B, B] bool, True where column j may serve as a negative for row i."""
    same_target = positive_ids[None, :] == positive_ids[:, None]
    is_anchor = positive_ids[None, :] == anchor_ids[:, None]
    eye = torch.eye(len(anchor_ids), dtype=torch.bool, device=anchor_ids.device)
    return eye | ~(same_target | is_anchor)


def info_nce(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    anchor_ids: torch.Tensor | None = None,
    positive_ids: torch.Tensor | None = None,
    temperature: float = 0.07,
    symmetric: bool = True,
) -> torch.Tensor:
    """Mean InfoNCE over rows (both directions when ``symmetric``), on cosine similarity / temperature."""
    a = F.normalize(anchor, dim=-1)
    p = F.normalize(positive, dim=-1)
    logits = a @ p.T / temperature
    if anchor_ids is not None and positive_ids is not None:
        keep = false_negative_mask(anchor_ids, positive_ids)
        logits = logits.masked_fill(~keep, float("-inf"))
        logits_t = (p @ a.T / temperature).masked_fill(~false_negative_mask(positive_ids, anchor_ids), float("-inf"))
    else:
        logits_t = logits.T
    target = torch.arange(len(a), device=a.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits_t, target))
    return loss
