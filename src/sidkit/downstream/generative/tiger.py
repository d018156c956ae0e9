"""TIGER: an encoder-decoder Transformer that reads a user's history as SID tokens and writes the next
item's SID, one level at a time, decoded by trie-constrained beam search (every answer is an item).

Vocabulary: 0 pad, 1 decoder start, then each SID level's codes at its own offset (the disambiguation
level included), then ``user_buckets`` hashed user tokens (TIGER's user token; 0 turns it off).
Encoder input: [user token] + the SIDs of the latest ``max_len`` items, oldest first. Decoder: start
token + the target's first levels → each level's code, trained with cross-entropy over that level's
codes only (the other levels can never be right there, so they stay out of the softmax).

Configs (``CONFIGS``): ``small`` fits a 2-core CPU (Beauty in about half an hour); ``paper`` is TIGER's
published size (4 + 4 layers, d_model 128, 6 heads of 64, MLP 1024, dropout 0.1) for a GPU.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sidkit.downstream.generative.beam_search import constrained_beam_search
from sidkit.downstream.generative.early_stopping import EarlyStopping
from sidkit.downstream.generative.split import Examples, SequenceSplit
from sidkit.downstream.generative.trie import SIDTrie

PAD, START, N_SPECIAL = 0, 1, 2


@dataclass(frozen=True)
class TigerConfig:
    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    ff: int = 512
    dropout: float = 0.1
    max_len: int = 20
    user_buckets: int = 2000
    epochs: int = 20
    batch_size: int = 256
    lr: float = 2e-3
    warmup_steps: int = 500
    beam: int = 20
    eval_every: int = 2
    patience: int = 3
    valid_users: int = 2000  # early stopping looks at this many validation users (decoding all is slow on CPU)


CONFIGS = {
    "small": TigerConfig(),
    # TIGER (Rajput et al. 2023): 4 + 4 layers, 6 heads of 64 (384 inside attention), MLP 1024, d_model 128
    "paper": TigerConfig(d_model=384, heads=6, encoder_layers=4, decoder_layers=4, ff=1024, epochs=200,
                         batch_size=256, lr=1e-3, warmup_steps=2000, eval_every=5, patience=5),
}


class TigerNet(nn.Module):
    def __init__(self, sizes: list[int], cfg: TigerConfig) -> None:
        super().__init__()
        self.sizes, self.cfg = sizes, cfg
        self.offsets = [N_SPECIAL + sum(sizes[:d]) for d in range(len(sizes))]
        self.user_offset = N_SPECIAL + sum(sizes)
        vocab = self.user_offset + cfg.user_buckets
        self.embed = nn.Embedding(vocab, cfg.d_model, padding_idx=PAD)
        self.enc_pos = nn.Embedding(1 + cfg.max_len * len(sizes), cfg.d_model)
        self.dec_pos = nn.Embedding(len(sizes), cfg.d_model)
        layer = dict(d_model=cfg.d_model, nhead=cfg.heads, dim_feedforward=cfg.ff, dropout=cfg.dropout,
                     batch_first=True, norm_first=True, activation="gelu")
        encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer), cfg.encoder_layers,
                                        norm=nn.LayerNorm(cfg.d_model), enable_nested_tensor=False)
        decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer), cfg.decoder_layers,
                                        norm=nn.LayerNorm(cfg.d_model))
        self.transformer = nn.Transformer(cfg.d_model, cfg.heads, custom_encoder=encoder, custom_decoder=decoder,
                                          batch_first=True)
        self.out = nn.Linear(cfg.d_model, vocab)
        self.register_buffer("causal", torch.triu(torch.ones(len(sizes), len(sizes), dtype=torch.bool), 1))

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = tokens == PAD
        pad[:, 0] = False  # an all-padding row (a user with no history and no user token) would give NaN
        x = self.embed(tokens) + self.enc_pos.weight[:tokens.shape[1]]
        return self.transformer.encoder(x, src_key_padding_mask=pad), pad

    def decode(self, memory: torch.Tensor, memory_pad: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """Logits over level d's codes [B, V_d] after ``prefix`` [B, d] codes (level values, no offsets)."""
        d = prefix.shape[1]
        offsets = torch.tensor(self.offsets[:d], dtype=torch.long)
        tokens = torch.cat([torch.full((len(prefix), 1), START, dtype=torch.long), prefix + offsets], 1)
        h = self.transformer.decoder(self.embed(tokens) + self.dec_pos.weight[:d + 1], memory,
                                     tgt_mask=self.causal[:d + 1, :d + 1], memory_key_padding_mask=memory_pad)
        lo = self.offsets[d]
        return self.out(h[:, -1])[:, lo:lo + self.sizes[d]]

    def loss(self, memory: torch.Tensor, memory_pad: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Teacher-forced cross-entropy of every level of ``target`` [B, D] (level values)."""
        n, depth = target.shape
        offsets = torch.tensor(self.offsets, dtype=torch.long)
        tokens = torch.cat([torch.full((n, 1), START, dtype=torch.long), target[:, :-1] + offsets[:-1]], 1)
        h = self.transformer.decoder(self.embed(tokens) + self.dec_pos.weight[:depth], memory,
                                     tgt_mask=self.causal, memory_key_padding_mask=memory_pad)
        logits = self.out(h)
        return sum(F.cross_entropy(logits[:, d, self.offsets[d]:self.offsets[d] + self.sizes[d]], target[:, d])
                   for d in range(depth)) / depth


class Tiger:
    """``fit(split, sids, ...)`` trains on the split's training examples, keeps the best validation
    epoch; ``recommend(examples, k)`` decodes the top-k items of each example."""

    def __init__(self, config: str | TigerConfig = "small", seed: int = 0, **overrides) -> None:
        base = CONFIGS[config] if isinstance(config, str) else config
        self.config = TigerConfig(**{**asdict(base), **overrides})
        self.seed = seed

    def _inputs(self, ex: Examples) -> torch.Tensor:
        """[M, 1 + max_len · D] encoder tokens: user token, then the history's SIDs (pads stay 0)."""
        cfg, sid = self.config, self.sid_
        hist = ex.history[:, -cfg.max_len:]
        toks = np.where(hist[..., None] >= 0, sid[np.maximum(hist, 0)] + np.array(self.net_.offsets), PAD)
        toks = toks.reshape(len(hist), -1)
        user = (self.net_.user_offset + ex.users % cfg.user_buckets if cfg.user_buckets
                else np.full(len(hist), PAD))
        return torch.from_numpy(np.concatenate([user[:, None], toks], 1).astype(np.int64))

    def fit(self, split: SequenceSplit, sid: np.ndarray, progress: bool = False) -> "Tiger":
        """``sid`` [n_items, D]: each catalogue item's SID with its disambiguation level (unique)."""
        cfg = self.config
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.sid_ = np.asarray(sid, dtype=np.int64)
        self.trie_ = SIDTrie(self.sid_)
        self.net_ = TigerNet(self.trie_.sizes, cfg)
        inputs, target = self._inputs(split.train), torch.from_numpy(self.sid_[split.train.target])
        opt = torch.optim.AdamW(self.net_.parameters(), lr=cfg.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / cfg.warmup_steps, math.sqrt(cfg.warmup_steps / (s + 1))))
        valid = split.valid
        if cfg.valid_users and len(valid) > cfg.valid_users:  # a fixed seeded subset, the same every epoch
            keep = np.sort(rng.choice(len(valid), cfg.valid_users, replace=False))
            valid = Examples(valid.users[keep], valid.history[keep], valid.target[keep])
        stopping = EarlyStopping(self.net_, "tiger", cfg.epochs, cfg.eval_every, cfg.patience, progress)
        steps_per_epoch = math.ceil(len(inputs) / cfg.batch_size)
        for epoch in range(cfg.epochs):
            self.net_.train()
            total = 0.0
            for b in torch.from_numpy(rng.permutation(len(inputs))).split(cfg.batch_size):
                memory, pad = self.net_.encode(inputs[b])
                loss = self.net_.loss(memory, pad, target[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net_.parameters(), 1.0)
                opt.step()
                sched.step()
                total += loss.item()
            if stopping.due(epoch) and stopping.stop(epoch, total / steps_per_epoch, valid, self.recommend):
                break
        stopping.restore()
        self.history_ = stopping.history
        return self

    @torch.inference_mode()
    def recommend(self, examples: Examples, k: int = 10, batch_size: int = 256) -> np.ndarray:
        """[M, k] items, best first (−1 where fewer than k valid items were found)."""
        self.net_.eval()
        beam = max(k, self.config.beam)
        inputs, out = self._inputs(examples), []
        for b in inputs.split(batch_size):
            memory, pad = self.net_.encode(b)
            memory, pad = memory.repeat_interleave(beam, 0), pad.repeat_interleave(beam, 0)

            def step(prefix: torch.Tensor) -> torch.Tensor:
                return F.log_softmax(self.net_.decode(memory, pad, prefix), dim=-1)

            items, _ = constrained_beam_search(step, self.trie_, len(b), beam)
            out.append(items[:, :k])
        return np.concatenate(out)
