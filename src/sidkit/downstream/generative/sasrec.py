"""SASRec on item IDs, trained with cross-entropy over every item: the baseline that anchors the
generative retrieval numbers (a harness whose SASRec is far below the published figure has a bug).

Causal self-attention over the latest ``max_len`` items (pre-norm blocks, learned positions), the
next item scored against every item embedding (shared input/output table). Each training sequence
(the user's items minus the two held out) teaches every position its next item. The epoch with the
best validation NDCG@10 is kept. Left padding is index 0 with a zero embedding, as in SASRec.
Defaults: d 64, 2 blocks, 1 head, 50 items, dropout 0.5 (the SASRec paper's setting for the sparse
Amazon data), Adam 1e-3, batches of 128 sequences, up to 60 epochs with patience 5 validations.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sidkit.downstream.generative.early_stopping import ValidatedStopping
from sidkit.downstream.generative.split import Examples, SequenceSplit


class SASRecNet(nn.Module):
    def __init__(self, n_items: int, dim: int = 64, layers: int = 2, heads: int = 1, max_len: int = 50,
                 dropout: float = 0.3) -> None:
        super().__init__()
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=0)  # item i is row i + 1
        self.pos = nn.Embedding(max_len, dim)
        self.drop = nn.Dropout(dropout)
        block = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim, dropout=dropout, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        nn.init.normal_(self.item.weight, std=0.02)
        with torch.no_grad():
            self.item.weight[0].zero_()
        self.register_buffer("causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1))

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden states [B, T, dim] for shifted item ids ``seq`` [B, T] (0 pads on the left)."""
        t = seq.shape[1]
        x = self.item(seq) * self.item.embedding_dim ** 0.5 + self.pos.weight[-t:]
        x = self.drop(x) * (seq > 0).unsqueeze(-1)
        return self.norm(self.blocks(x, mask=self.causal[:t, :t]))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.item.weight[1:].T


def _window(seqs: list[np.ndarray], length: int) -> np.ndarray:
    """[U, length] the latest ``length`` items of each sequence, shifted by one, 0 pads on the left."""
    out = np.zeros((len(seqs), length), dtype=np.int64)
    for r, s in enumerate(seqs):
        s = s[-length:]
        if len(s):
            out[r, length - len(s):] = s + 1
    return out


class SASRec:
    """scikit-learn style: parameters in the constructor, ``fit(split, sequences)``, ``recommend(examples, k)``."""

    def __init__(self, dim: int = 64, layers: int = 2, heads: int = 1, max_len: int = 50, dropout: float = 0.5,
                 epochs: int = 60, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
                 eval_every: int = 2, patience: int = 5, seed: int = 0) -> None:
        self.dim, self.layers, self.heads, self.max_len, self.dropout = dim, layers, heads, max_len, dropout
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.eval_every, self.patience, self.seed = eval_every, patience, seed

    def fit(self, split: SequenceSplit, sequences: list[np.ndarray], progress: bool = False) -> "SASRec":
        """``sequences``: every user's full chronological items; the last two are never trained on."""
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.net_ = SASRecNet(split.n_items, self.dim, self.layers, self.heads, self.max_len, self.dropout)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        train = [s[:-2] if len(s) >= 3 else s for s in sequences]
        train = [s for s in train if len(s) >= 2]
        windows = torch.from_numpy(_window(train, self.max_len + 1))  # inputs [:, :-1], targets [:, 1:]
        stopping = ValidatedStopping(self.net_, "sasrec", self.epochs, self.eval_every, self.patience, progress)
        for epoch in range(self.epochs):
            self.net_.train()
            total = 0.0
            for b in torch.from_numpy(rng.permutation(len(windows))).split(self.batch_size):
                w = windows[b]
                inp, tgt = w[:, :-1], w[:, 1:]
                hidden = self.net_(inp)
                keep = (tgt > 0) & (inp > 0)  # a position with an input item and a next item
                loss = F.cross_entropy(self.net_.logits(hidden[keep]), tgt[keep] - 1)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(b)
            if stopping.due(epoch) and stopping.stop(epoch, total / len(windows), split.valid, self.recommend):
                break
        stopping.restore()
        self.history_ = stopping.history
        return self

    @torch.inference_mode()
    def recommend(self, examples: Examples, k: int = 10, batch_size: int = 1024) -> np.ndarray:
        """[M, k] the top-k items for each example's history (every item is a candidate)."""
        self.net_.eval()
        hist = examples.history[:, -self.max_len:]
        seq = torch.from_numpy(np.where(hist >= 0, hist + 1, 0))
        out = []
        for b in seq.split(batch_size):
            out.append(self.net_.logits(self.net_(b)[:, -1]).topk(k, dim=1).indices)
        return torch.cat(out).numpy()
