"""TIGER: an encoder-decoder Transformer that reads a user's history as SID tokens and writes the next
item's SID, one level at a time, decoded by trie-constrained beam search (every answer is an item).

Vocabulary: 0 pad, 1 decoder start, then each SID level's codes at its own offset (the disambiguation
level included), then ``user_buckets`` hashed user tokens (TIGER's user token; 0 turns it off).
Encoder input: the user token, then the latest ``max_len`` items, oldest first, either as TIGER's flat
token sequence (``encoder_input="tokens"``: one position per SID token) or one position per item whose
vector is the sum of its levels' token embeddings (``"items"``: D times shorter, the CPU choice; the
decoder and the output side are the same). Positions count back from the latest item, so a batch
trimmed to its longest history keeps every item's position. Decoder: start token + the target's first
levels → each level's code, trained with cross-entropy over that level's codes only (the other levels
can never be right there, so they stay out of the softmax).

Configs (``CONFIGS``): ``small`` fits a 2-core CPU (a Beauty run in well under half an hour); ``paper``
is TIGER's published size (4 + 4 layers, 6 heads, MLP 1024, dropout 0.1, flat tokens) for a GPU.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from sidkit.downstream.generative.beam_decoder import BeamDecoder
from sidkit.downstream.generative.beam_search import constrained_beam_search
from sidkit.downstream.generative.early_stopping import ValidatedStopping
from sidkit.downstream.generative.length_batches import history_lengths, length_batches
from sidkit.downstream.generative.split import Examples, SequenceSplit
from sidkit.downstream.generative.trie import SIDTrie

PAD, START, N_SPECIAL = 0, 1, 2
ENCODER_INPUTS = ("items", "tokens")


@dataclass(frozen=True)
class TigerConfig:
    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    ff: int = 512
    dropout: float = 0.1
    max_len: int = 20
    encoder_input: str = "items"
    user_buckets: int = 2000
    epochs: int = 8
    batch_size: int = 256
    lr: float = 2e-3
    warmup_steps: int = 500
    beam: int = 20
    eval_every: int = 2
    patience: int = 2
    valid_users: int = 2000  # early stopping looks at this many validation users (decoding all is slow on CPU)


CONFIGS = {
    "small": TigerConfig(),
    # TIGER (Rajput et al. 2023): 4 + 4 layers, 6 heads of 64 (384 inside attention), MLP 1024, dropout 0.1
    "paper": TigerConfig(d_model=384, heads=6, encoder_layers=4, decoder_layers=4, ff=1024, encoder_input="tokens",
                         epochs=200, batch_size=256, lr=1e-3, warmup_steps=2000, eval_every=5, patience=5),
}


class TigerNet(nn.Module):
    def __init__(self, sizes: list[int], cfg: TigerConfig) -> None:
        super().__init__()
        self.sizes, self.cfg = sizes, cfg
        self.offsets = [N_SPECIAL + sum(sizes[:d]) for d in range(len(sizes))]
        self.user_offset = N_SPECIAL + sum(sizes)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.ff, cfg.dropout, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, cfg.encoder_layers, norm=nn.LayerNorm(cfg.d_model),
                                             enable_nested_tensor=False)
        self.decoder = BeamDecoder(cfg.d_model, cfg.heads, cfg.ff, cfg.dropout, cfg.decoder_layers)
        # Parts sized by the tokenizer's codebooks are drawn from a fork of the random stream, so under one
        # seed every tokenizer's TIGER gets the same transformer weights and, after construction, the same
        # stream (dropout masks): a comparison of tokenizers then differs by the tokenizer only.
        with torch.random.fork_rng(devices=[]):
            per_item = len(sizes) if cfg.encoder_input == "tokens" else 1
            self.enc_pos = nn.Embedding(1 + cfg.max_len * per_item, cfg.d_model)  # row 0: the user token
            self.dec_pos = nn.Embedding(len(sizes), cfg.d_model)
            self.embed = nn.Embedding(self.user_offset + cfg.user_buckets, cfg.d_model, padding_idx=PAD)
            self.out = nn.Linear(cfg.d_model, sum(sizes))  # code logits only: no level predicts a user token

    def encode(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs`` [B, 1 + max_len, D]: the user token (row 0, level 0), then left-padded item SIDs.
        → memory [B, S, d] and its padding mask [B, S], trimmed to the batch's longest history."""
        b, _, depth = inputs.shape
        n = int((inputs[:, 1:, 0] != PAD).sum(1).max())
        hist = inputs[:, inputs.shape[1] - n:]  # leading columns that are padding in every row go
        user = self.embed(inputs[:, :1, 0])
        if self.cfg.encoder_input == "tokens":
            hist = hist.reshape(b, n * depth)
            x, pad = self.embed(hist), hist == PAD
        else:
            x, pad = self.embed(hist).sum(2), hist[:, :, 0] == PAD
        pos = self.enc_pos.weight
        x = torch.cat([user + pos[0], x + pos[len(pos) - x.shape[1]:]], 1)
        # the user slot stays visible, even unhashed: an all-padding row would make attention NaN
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool), pad], 1)
        return self.encoder(x, src_key_padding_mask=pad), pad

    def _logits(self, h: torch.Tensor, level: int) -> torch.Tensor:
        lo = self.offsets[level] - N_SPECIAL
        hi = lo + self.sizes[level]
        return F.linear(h, self.out.weight[lo:hi], self.out.bias[lo:hi])

    def _decoder_states(self, memory: torch.Tensor, memory_pad: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """[Q, beam, d + 1, d_model] for ``prefix`` [Q, beam, d] level codes (no offsets)."""
        d = prefix.shape[2]
        tokens = prefix + torch.tensor(self.offsets[:d], dtype=torch.long)
        tokens = torch.cat([torch.full((*prefix.shape[:2], 1), START, dtype=torch.long), tokens], 2)
        return self.decoder(self.embed(tokens) + self.dec_pos.weight[:d + 1], memory, memory_pad)

    def decode(self, memory: torch.Tensor, memory_pad: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """Logits over level d's codes [Q, beam, V_d] after each beam's ``prefix`` [Q, beam, d]."""
        return self._logits(self._decoder_states(memory, memory_pad, prefix)[:, :, -1], prefix.shape[2])

    def loss(self, memory: torch.Tensor, memory_pad: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Teacher-forced cross-entropy of every level of ``target`` [B, D] (level values)."""
        depth = target.shape[1]
        h = self._decoder_states(memory, memory_pad, target[:, None, :-1])[:, 0]
        return sum(F.cross_entropy(self._logits(h[:, d], d), target[:, d]) for d in range(depth)) / depth


class Tiger:
    """``fit(split, sids, ...)`` trains on the split's training examples, keeps the best validation
    epoch; ``recommend(examples, k)`` decodes the top-k items of each example."""

    def __init__(self, config: str | TigerConfig = "small", seed: int = 0, **overrides) -> None:
        base = CONFIGS[config] if isinstance(config, str) else config
        self.config = TigerConfig(**{**asdict(base), **overrides})
        if self.config.encoder_input not in ENCODER_INPUTS:
            raise ValueError(f"encoder_input {self.config.encoder_input!r}; expected one of {ENCODER_INPUTS}")
        self.seed = seed

    def _inputs(self, ex: Examples) -> torch.Tensor:
        """[M, 1 + max_len, D] encoder tokens: the user token (row 0, level 0), then the history's SIDs."""
        cfg, sid, depth = self.config, self.sid_, self.sid_.shape[1]
        hist = ex.history[:, -cfg.max_len:]
        toks = np.where(hist[..., None] >= 0, sid[np.maximum(hist, 0)] + np.array(self.net_.offsets), PAD)
        user = np.full((len(hist), 1, depth), PAD, dtype=np.int64)
        if cfg.user_buckets:
            user[:, 0, 0] = self.net_.user_offset + ex.users % cfg.user_buckets
        return torch.from_numpy(np.concatenate([user, toks], 1).astype(np.int64))

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
        stopping = ValidatedStopping(self.net_, "tiger", cfg.epochs, cfg.eval_every, cfg.patience, progress)
        lengths = history_lengths(split.train.history[:, -cfg.max_len:])
        steps_per_epoch = math.ceil(len(inputs) / cfg.batch_size)
        t0 = time.perf_counter()
        for epoch in range(cfg.epochs):
            self.net_.train()
            total = 0.0
            batches = tqdm(length_batches(lengths, cfg.batch_size, rng), total=steps_per_epoch, unit="batch",
                           desc=f"tiger epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False)
            for k, b in enumerate(batches):
                if progress and epoch == 0 and k == min(20, steps_per_epoch - 1):  # the expected time, early
                    per_epoch = (time.perf_counter() - t0) / max(k, 1) * steps_per_epoch
                    print(f"  tiger: ~{per_epoch:.0f}s an epoch; at most {cfg.epochs} epochs, ~{per_epoch * cfg.epochs / 60:.0f} "
                          "min before validation and early stopping (cap with --tiger-epochs)",
                          file=sys.stderr, flush=True)
                b = torch.from_numpy(b)
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
    def recommend(self, examples: Examples, k: int = 10, batch_size: int = 256,
                  with_scores: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """[M, k] items, best first (−1 where fewer than k valid items were found); with ``with_scores``
        also their [M, k] log-probabilities."""
        self.net_.eval()
        beam = max(k, self.config.beam)
        inputs = self._inputs(examples)
        # similar lengths together, so each batch's encoder is trimmed to little padding
        order = np.argsort(history_lengths(examples.history[:, -self.config.max_len:]), kind="stable")
        out = np.empty((len(examples), k), dtype=np.int64)
        scores = np.empty((len(examples), k), dtype=np.float32)
        for rows in np.array_split(order, max(1, math.ceil(len(order) / batch_size))):
            memory, pad = self.net_.encode(inputs[torch.from_numpy(rows)])

            def step(prefix: torch.Tensor) -> torch.Tensor:
                logits = self.net_.decode(memory, pad, prefix.view(len(rows), beam, prefix.shape[1]))
                return F.log_softmax(logits, dim=-1).view(len(rows) * beam, -1)

            items, score = constrained_beam_search(step, self.trie_, len(rows), beam)
            out[rows], scores[rows] = items[:, :k], score[:, :k]
        return (out, scores) if with_scores else out
