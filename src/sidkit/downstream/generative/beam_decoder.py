"""A pre-norm Transformer decoder whose cross-attention reads each query's encoder memory once for all
of that query's beams.

Beam search decodes ``beam`` continuations of the same history. ``nn.TransformerDecoder`` needs the
memory repeated per beam, so every step re-projects the same keys and values ``beam`` times (for beam
20, twenty times the encoder's work at each level). Here the decoder input is ``[Q, beam, t, d]``:
self-attention runs per beam (``Q · beam`` sequences of ``t`` tokens, causal), and cross-attention
folds the beams into the query axis, so ``Q · beam · t`` queries attend to ``Q`` memories projected
once. Training is the same code with ``beam = 1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Attention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q, self.kv, self.out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """[N, T, d] → [N, heads, T, d / heads]."""
        n, t, d = x.shape
        return x.view(n, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, source: torch.Tensor, mask: torch.Tensor | None = None,
                causal: bool = False) -> torch.Tensor:
        """``x`` [N, T, d] attends to ``source`` [N, S, d]; ``mask`` [N, 1, 1, S] True = may attend."""
        k, v = self.kv(source).chunk(2, dim=-1)
        a = F.scaled_dot_product_attention(self._split(self.q(x)), self._split(k), self._split(v), attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0, is_causal=causal)
        return self.out(a.transpose(1, 2).reshape(x.shape))


class DecoderLayer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.self_attn, self.cross_attn = _Attention(d, heads, dropout), _Attention(d, heads, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        """``x`` [Q, beam, t, d]; ``memory`` [Q, S, d]; ``attend`` [Q, 1, 1, S] True where memory is real."""
        q, beam, t, d = x.shape
        h = self.norm1(x).reshape(q * beam, t, d)
        x = x + self.drop(self.self_attn(h, h, causal=True)).view(q, beam, t, d)
        h = self.norm2(x).reshape(q, beam * t, d)
        x = x + self.drop(self.cross_attn(h, memory, attend)).view(q, beam, t, d)
        return x + self.drop(self.ff(self.norm3(x)))


class BeamDecoder(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, dropout: float, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d, heads, ff, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_pad: torch.Tensor) -> torch.Tensor:
        """``x`` [Q, beam, t, d] → [Q, beam, t, d]; ``memory_pad`` [Q, S] True where the memory is padding."""
        attend = ~memory_pad[:, None, None, :]
        for layer in self.layers:
            x = layer(x, memory, attend)
        return self.norm(x)
