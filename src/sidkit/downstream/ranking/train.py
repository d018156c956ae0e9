"""Train a ranking model on the training samples and score the test samples (one screen, no framework)."""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import trange

from sidkit.downstream.ranking.model import ItemFeatures, RankingModel
from sidkit.downstream.ranking.samples import RankingSamples


def train_and_score(samples: RankingSamples, history: np.ndarray, features: ItemFeatures, *, dim: int = 32,
                    item_ids: bool = True, epochs: int = 2, batch_size: int = 2048, lr: float = 1e-3,
                    weight_decay: float = 0.0, seed: int = 0, progress: bool = False) -> np.ndarray:
    """Probabilities [test samples, tasks] (in ``samples.tasks`` order)."""
    torch.manual_seed(seed)
    tasks = samples.tasks
    model = RankingModel(samples.n_users, samples.n_items, tasks, features, dim=dim, item_ids=item_ids)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    users, items, hist = (torch.from_numpy(a) for a in (samples.users, samples.items, history))
    y = torch.from_numpy(np.stack([samples.labels[t] for t in tasks], 1).astype(np.float32))
    m = torch.from_numpy(np.stack([samples.masks[t] for t in tasks], 1).astype(np.float32))
    train_rows = np.flatnonzero(samples.train)
    gen = np.random.default_rng(seed)
    model.train()
    for epoch in range(epochs):
        order = torch.from_numpy(gen.permutation(train_rows))
        starts = trange(0, len(order), batch_size, desc=f"ranker epoch {epoch + 1}/{epochs}", unit="batch",
                        disable=not progress, leave=False)
        for start in starts:
            b = order[start:start + batch_size]
            logits = model(users[b], items[b], hist[b])
            # summed BCE over tasks, each averaged over the rows where its label is defined
            loss = ((F.binary_cross_entropy_with_logits(logits, y[b], reduction="none") * m[b]).sum(0)
                    / m[b].sum(0).clamp(min=1)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if progress:
            print(f"  epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.4f}", file=sys.stderr, flush=True)
    model.eval()
    test_rows = torch.from_numpy(np.flatnonzero(samples.test))
    with torch.inference_mode():
        out = [torch.sigmoid(model(users[b], items[b], hist[b]))
               for b in test_rows.split(8192)]
    return torch.cat(out).numpy()
