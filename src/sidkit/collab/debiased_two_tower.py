"""ICDM, DAS's ID-based CF debias model: a two-tower model on user and item IDs with a bias branch per
tower, trained on clicks together with the tokenizers.

    user tower  c_u = MLP([interest_u ; conformity_u])      item tower  c_i = MLP([content_i ; popularity_i])

The bias branches are pinned to what they should carry by supervision (a linear head on popularity_i
predicts the item's click popularity, one on conformity_u the mean popularity of the user's items;
``popularity_statistics``) and kept apart from the other part by an orthogonality term
(objectives/orthogonality.py). Alignment then uses only the debiased parts, interest and content.
With ``debias=False`` each tower has its one ID part and nothing else: the plain two-tower ablation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sidkit.data.types import Interactions


@dataclass
class Towers:
    c_u: torch.Tensor                          # [B, d] user tower output
    c_i: torch.Tensor                          # [B, d] item tower output
    interest: torch.Tensor                     # [B, d] debiased user part (what alignment uses)
    content: torch.Tensor                      # [B, d] debiased item part
    conformity: torch.Tensor | None = None     # [B, d] bias parts (None without debias)
    popularity: torch.Tensor | None = None
    conformity_pred: torch.Tensor | None = None  # [B] heads' predictions of the statistics
    popularity_pred: torch.Tensor | None = None


@dataclass
class PopularityStatistics:
    item_popularity: np.ndarray    # [n_items] standardised log(1 + training clicks)
    user_conformity: np.ndarray    # [n_users] mean item_popularity of the user's training clicks (0: none)


def popularity_statistics(train: Interactions) -> PopularityStatistics:
    counts = np.log1p(np.bincount(train.items, minlength=train.n_items).astype(np.float64))
    pop = (counts - counts.mean()) / (counts.std() or 1.0)
    per_user = np.bincount(train.users, weights=pop[train.items], minlength=train.n_users)
    n = np.bincount(train.users, minlength=train.n_users)
    conf = np.where(n > 0, per_user / np.maximum(n, 1), 0.0)
    return PopularityStatistics(pop.astype(np.float32), conf.astype(np.float32))


def _tower(parts: int, dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(parts * dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))


class DebiasedTwoTower(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int = 32, debias: bool = True) -> None:
        super().__init__()
        self.debias = debias
        self.interest = nn.Embedding(n_users, dim)
        self.content = nn.Embedding(n_items, dim)
        if debias:
            self.conformity = nn.Embedding(n_users, dim)
            self.popularity = nn.Embedding(n_items, dim)
            self.conformity_head = nn.Linear(dim, 1)
            self.popularity_head = nn.Linear(dim, 1)
        parts = 2 if debias else 1
        self.user_tower, self.item_tower = _tower(parts, dim), _tower(parts, dim)
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> Towers:
        interest, content = self.interest(users), self.content(items)
        if not self.debias:
            return Towers(self.user_tower(interest), self.item_tower(content), interest, content)
        conformity, popularity = self.conformity(users), self.popularity(items)
        return Towers(self.user_tower(torch.cat([interest, conformity], 1)),
                      self.item_tower(torch.cat([content, popularity], 1)), interest, content, conformity, popularity,
                      self.conformity_head(conformity).squeeze(-1), self.popularity_head(popularity).squeeze(-1))
