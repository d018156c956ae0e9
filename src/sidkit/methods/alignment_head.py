"""QARM item alignment: a trainable head on frozen content embeddings, trained so that mined
(trigger, target) pairs are closer than the other items in the batch (QARM Eq. 1, batch-contrastive).

The paper fine-tunes the MLLM itself; here the encoder stays frozen and only the head learns [choice].
The head is residual with a zero-initialised last layer, so training starts from the content space and
moves only what the pairs pull on; items with no pair still move with similar content.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sidkit.collab.item_pairs import ItemPairs
from sidkit.errors import SidkitError
from sidkit.methods.hard_negatives import HardNegatives
from sidkit.objectives.contrastive import info_nce
from sidkit.training.early_stopping import EarlyStopping
from sidkit.training.held_out import held_out_loss, split_held_out


class AlignmentHead(nn.Module):
    def __init__(self, dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x + self.mlp(x), dim=-1)


def train_alignment(
    x: np.ndarray,
    pairs: ItemPairs,
    *,
    hidden: int = 512,
    epochs: int = 20,
    batch_size: int = 1024,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    temperature: float = 0.07,
    valid_frac: float = 0.05,
    patience: int = 3,
    hard_negatives: int = 0,
    hard_negative_pool: int = 50,
    seed: int = 0,
) -> tuple[AlignmentHead, list[dict[str, float]]]:
    """Train the head; keep the epoch with the lowest loss on held-out pairs. Returns (head, history).

    ``hard_negatives``: per pair, that many of the trigger's ``hard_negative_pool`` nearest content
    neighbours that are not its mined positives join the batch's negatives (hard_negatives.py). The
    held-out loss stays in-batch only, so epochs are compared on one fixed measure."""
    if len(pairs) < 2:
        raise SidkitError("alignment needs item pairs; the interactions gave fewer than 2 (too few users with ≥ 2 items?)")
    g = torch.Generator().manual_seed(seed)
    xt = torch.as_tensor(x, dtype=torch.float32)
    trig = torch.as_tensor(pairs.trigger)
    targ = torch.as_tensor(pairs.target)
    valid, train = split_held_out(torch.randperm(len(pairs), generator=g), valid_frac)

    torch.manual_seed(seed)
    head = AlignmentHead(x.shape[1], hidden)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)

    hard = HardNegatives(x, pairs, hard_negative_pool) if hard_negatives > 0 else None

    def batch_loss(rows: torch.Tensor, with_hard: bool = False) -> torch.Tensor:
        a, b = trig[rows], targ[rows]
        neg = neg_x = None
        if with_hard and hard is not None:
            neg = hard.sample(a, hard_negatives, g)
            neg_x = head(xt[neg.clamp(min=0)].reshape(-1, xt.shape[1])).reshape(*neg.shape, -1)
        return info_nce(head(xt[a]), head(xt[b]), a, b, temperature, negatives=neg_x, negative_ids=neg)

    stopping = EarlyStopping(head, patience=patience, mode="min", min_delta=1e-4)
    for epoch in range(epochs):
        head.train()
        order = train[torch.randperm(len(train), generator=g)]
        losses = []
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            if len(rows) < 2:
                continue
            loss = batch_loss(rows, with_hard=True)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        head.eval()
        valid_loss = held_out_loss(batch_loss, valid, batch_size, fallback=float(np.mean(losses)))
        if stopping.update(epoch, valid_loss, train_loss=float(np.mean(losses)), valid_loss=valid_loss):
            break
    stopping.restore()
    return head, stopping.history


def apply_head(head: AlignmentHead, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    with torch.no_grad():
        xt = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
        return torch.cat([head(xt[s:s + batch_size]) for s in range(0, len(xt), batch_size)]).numpy()
