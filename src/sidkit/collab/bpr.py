"""BPR matrix factorisation on user/item IDs: the small CF model whose item space picks QARM's triggers."""

from __future__ import annotations

import torch
from tqdm.auto import trange

from sidkit.data.types import Interactions


class BPRMF:
    """Bayesian personalised ranking with one uniformly sampled negative per positive.

    After ``fit``: ``user_factors_`` [n_users, dim] and ``item_factors_`` [n_items, dim] (numpy).
    """

    def __init__(self, dim: int = 64, epochs: int = 30, lr: float = 0.01, reg: float = 1e-4,
                 batch_size: int = 2048, seed: int = 0) -> None:
        self.dim = dim
        self.epochs = epochs
        self.lr = lr
        self.reg = reg
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, train: Interactions, progress: bool = False) -> "BPRMF":
        g = torch.Generator().manual_seed(self.seed)
        users = torch.as_tensor(train.users)
        items = torch.as_tensor(train.items)
        user_emb = torch.nn.Parameter(torch.randn(train.n_users, self.dim, generator=g) * 0.1)
        item_emb = torch.nn.Parameter(torch.randn(train.n_items, self.dim, generator=g) * 0.1)
        opt = torch.optim.Adam([user_emb, item_emb], lr=self.lr)
        n = len(users)
        for _ in trange(self.epochs, desc="BPR", unit="epoch", disable=not progress, leave=False):
            perm = torch.randperm(n, generator=g)
            for start in range(0, n, self.batch_size):
                b = perm[start:start + self.batch_size]
                u, i = users[b], items[b]
                j = torch.randint(0, train.n_items, (len(b),), generator=g)
                eu, ei, ej = user_emb[u], item_emb[i], item_emb[j]
                margin = (eu * (ei - ej)).sum(-1)
                loss = -torch.nn.functional.logsigmoid(margin).mean()
                loss = loss + self.reg * (eu.square().sum() + ei.square().sum() + ej.square().sum()) / len(b)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.user_factors_ = user_emb.detach().numpy().copy()
        self.item_factors_ = item_emb.detach().numpy().copy()
        return self
