"""The ranking model: SIDs as learnable features (QARM §2.4) in a multi-gate mixture of experts.

Features of one sample (user u, target item i, u's latest clicks h_1..h_H before the exposure):
- IDs: user embedding; item-ID embedding unless ``item_ids=False`` (the ID-free mode for cold start).
- user side: one embedding per level of the user's own SID (DAS's user codes), where given.
- item side: one embedding per RQ level of the item's codes (or per prefix / n-gram of them, hashed
  into one table: sid_features.py); the mean of the embeddings of its VQ
  codes (its top-K similar items, a vocabulary of item indices); a projection of the frozen aligned
  representation M (``ia-rep``).
- an item's vector is the sum of its parts; the user side is target attention over the history items'
  vectors (scaled dot product with the target's vector) and their mean.
- cross features (with RQ codes): for l = 1..L, the history items whose first l codes equal the
  target's: log(1 + count) and the mean of their vectors.
A multi-gate mixture of experts (one softmax gate per task over shared experts) feeds one tower per
task; training sums the tasks' BCE where each label is defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sidkit.downstream.ranking.sid_features import sid_rows


@dataclass
class ItemFeatures:
    """Per-item code features (rows = catalogue items); any may be absent."""

    rq: np.ndarray | None = None        # [N, L] codes
    rq_sizes: list[int] | None = None
    vq: np.ndarray | None = None        # [N, K] item indices
    aligned: np.ndarray | None = None   # [N, D] frozen representation
    user: np.ndarray | None = None      # [n_users, L_u] user SID codes (DAS)
    user_sizes: list[int] | None = None
    scheme: str = "per-level"           # how SIDs are embedded (sid_features.py): per-level, prefix-ngram, ngram
    table_size: int = 0                 # rows of the hashed gram table (0: one row per gram)
    ngram: int = 2                      # longest n-gram of the ngram scheme


def prefix_matches(target: torch.Tensor, history: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[B, H, L] bool: history item h shares the target's first l + 1 codes (padding never matches).

    ``target`` [B, L] and ``history`` [B, H, L] are RQ codes: QARM's target-aware cross feature.
    """
    return (history == target[:, None, :]).cumprod(-1).bool() & valid[..., None]


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class RankingModel(nn.Module):
    def __init__(self, n_users: int, n_items: int, tasks: list[str], features: ItemFeatures, *, dim: int = 32,
                 item_ids: bool = True, cross: bool = True, experts: int = 4, expert_sizes: tuple[int, ...] = (128, 64),
                 tower: int = 32) -> None:
        super().__init__()
        self.tasks, self.dim = tasks, dim
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim) if item_ids else None
        buffers = {"rq": features.rq, "vq": features.vq, "aligned": features.aligned, "user_codes": features.user}
        for name, value in buffers.items():
            dtype = torch.float32 if name == "aligned" else torch.long
            self.register_buffer(name, None if value is None else torch.as_tensor(value, dtype=dtype))
        self.rq_emb = self._sid_tables("rq", features.rq, features.rq_sizes, features, dim)
        self.vq_emb = nn.Embedding(n_items, dim) if features.vq is not None else None
        self.ia = nn.Linear(features.aligned.shape[1], dim) if features.aligned is not None else None
        self.user_emb = self._sid_tables("user", features.user, features.user_sizes, features, dim)
        self.cross = cross and features.rq is not None
        n_sid = self.rq_rows.shape[1] if self.rq_rows is not None else len(self.rq_emb) if self.rq_emb else 0
        n_parts = sum(x is not None for x in (self.item, self.vq_emb, self.ia)) + n_sid
        levels = features.rq.shape[1] if self.cross else 0
        user_parts = (self.user_rows.shape[1] if self.user_rows is not None
                      else len(self.user_emb) if self.user_emb is not None else 0)
        d_in = dim * (1 + user_parts + n_parts + 2) + levels * (dim + 1)
        self.experts = nn.ModuleList(mlp([d_in, *expert_sizes]) for _ in range(experts))
        self.gates = nn.ModuleList(nn.Linear(d_in, experts) for _ in tasks)
        self.towers = nn.ModuleList(nn.Sequential(mlp([expert_sizes[-1], tower]), nn.Linear(tower, 1)) for _ in tasks)
        for emb in self.modules():
            if isinstance(emb, nn.Embedding):
                nn.init.normal_(emb.weight, std=0.05)

    def _sid_tables(self, name: str, codes: np.ndarray | None, sizes: list[int] | None, features: ItemFeatures,
                    dim: int) -> nn.Module | None:
        """Per level: one table per level. A gram scheme: one table, each entity's rows as a buffer."""
        rows = None
        if codes is not None and features.scheme != "per-level":
            rows, n_rows = sid_rows(codes, sizes, features.scheme, features.table_size, features.ngram)
        self.register_buffer(f"{name}_rows", None if rows is None else torch.as_tensor(rows))
        if codes is None:
            return None
        return nn.Embedding(n_rows, dim) if rows is not None else nn.ModuleList(nn.Embedding(k, dim) for k in sizes)

    @staticmethod
    def _sid_parts(emb: nn.Module, codes: torch.Tensor, rows: torch.Tensor | None) -> list[torch.Tensor]:
        if rows is not None:
            return [emb(rows[:, f]) for f in range(rows.shape[1])]
        return [table(codes[:, level]) for level, table in enumerate(emb)]

    def item_parts(self, items: torch.Tensor) -> list[torch.Tensor]:
        """The feature vectors of catalogue items ``items`` [U] (no padding), each [U, dim]."""
        parts = []
        if self.item is not None:
            parts.append(self.item(items))
        if self.rq_emb is not None:
            parts += self._sid_parts(self.rq_emb, self.rq[items], None if self.rq_rows is None else self.rq_rows[items])
        if self.vq_emb is not None:
            parts.append(self.vq_emb(self.vq[items]).mean(1))
        if self.ia is not None:
            parts.append(self.ia(self.aligned[items]))
        return parts

    def forward(self, users: torch.Tensor, items: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """Logits [B, tasks]. ``history`` [B, H] holds −1 where a user has fewer than H clicks."""
        valid = history >= 0
        # each distinct item of the batch is featurised once: a batch's histories repeat items a lot,
        # and the VQ pooling (K code embeddings per item) was most of the time before this
        distinct, where = torch.unique(torch.cat([items[:, None], history.clamp(min=0)], 1), return_inverse=True)
        parts = self.item_parts(distinct)
        # index_select, not p[where]: the backward of advanced indexing accumulates in a thread-dependent
        # order on CPU, and the same seed gave different figures (found in the RQ-VAE too)
        target_parts = [p.index_select(0, where[:, 0]) for p in parts]
        target = sum(target_parts)
        hist = sum(parts).index_select(0, where[:, 1:].reshape(-1)).view(*history.shape, self.dim)
        hist = hist * valid.unsqueeze(-1)                                    # [B, H, dim]
        n_valid = valid.sum(1, keepdim=True).clamp(min=1)
        score = (hist @ target.unsqueeze(-1)).squeeze(-1) / self.dim ** 0.5
        weight = torch.softmax(score.masked_fill(~valid, -1e9), dim=1) * valid  # all-padding rows give 0
        attended = (weight.unsqueeze(-1) * hist).sum(1)
        mean = hist.sum(1) / n_valid
        feats = [self.user(users), *target_parts, attended, mean]
        if self.user_emb is not None:
            feats += self._sid_parts(self.user_emb, self.user_codes[users],
                                     None if self.user_rows is None else self.user_rows[users])
        if self.cross:
            match = prefix_matches(self.rq[items], self.rq[history.clamp(min=0)], valid).float()  # [B, H, L]
            count = match.sum(1)                                                                 # [B, L]
            pooled = (match.transpose(1, 2) @ hist) / count.clamp(min=1).unsqueeze(-1)           # [B, L, dim]
            feats += [torch.log1p(count), pooled.flatten(1)]
        x = torch.cat(feats, dim=1)
        expert_out = torch.stack([e(x) for e in self.experts], dim=1)     # [B, E, h]
        logits = []
        for gate, tower in zip(self.gates, self.towers):
            mix = (torch.softmax(gate(x), dim=1).unsqueeze(-1) * expert_out).sum(1)
            logits.append(tower(mix))
        return torch.cat(logits, dim=1)
