"""Held-out pairs for the contrastive alignments (QARM's head, the fine-tuned encoder): which pairs are
kept out of training, and their mean loss, which early stopping reads after each epoch."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


def split_held_out(perm: torch.Tensor, valid_frac: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(held-out rows, training rows) of an already shuffled ``perm``; fewer than 40 rows are all trained
    on, since a handful of held-out pairs would make the kept epoch a coin toss."""
    n_valid = int(len(perm) * valid_frac) if len(perm) >= 40 else 0
    return perm[:n_valid], perm[n_valid:]


def held_out_loss(batch_loss: Callable[[torch.Tensor], torch.Tensor], rows: torch.Tensor, batch_size: int,
                  fallback: float) -> float:
    """Mean of ``batch_loss`` over ``rows`` in batches, without gradients. A batch of one row is skipped
    (in-batch negatives need two); with no batch at all, ``fallback`` (the epoch's training loss)."""
    with torch.no_grad():
        losses = [batch_loss(rows[s:s + batch_size]).item() for s in range(0, len(rows), batch_size)
                  if len(rows[s:s + batch_size]) >= 2]
    return float(np.mean(losses)) if losses else fallback
