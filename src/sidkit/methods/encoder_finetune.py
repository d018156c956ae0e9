"""QARM's alignment as the paper does it: fine-tune the text encoder itself on the mined item pairs.

``alignment_head.py`` trains a small head on frozen MiniLM vectors; here every weight of the
sentence-transformers model learns, so the text of two co-clicked items is pulled together before any
pooling. The loss is the head's (``objectives.contrastive.info_nce``: symmetric, in-batch negatives,
columns that are the same item masked out), so the two alignments differ only in what is trained.

The loop is plain PyTorch over ``SentenceTransformer.preprocess`` / ``forward``: sentence-transformers'
own trainer needs ``datasets`` and ``accelerate``, which sidkit does not depend on, and a loop that
fits on one screen is easier to check than a trainer's callbacks.

Choices [written down because the paper does not give them for a text model]:
- lr 2e-5 with AdamW, linear warm-up over the first 10% of steps: the usual fine-tuning recipe for
  MiniLM-sized encoders; larger rates forget the pre-training within one epoch on a few 10^4 pairs.
- τ = 0.05 (sentence-transformers' MultipleNegativesRankingLoss scale 20).
- batch 64 pairs: in-batch negatives grow with the batch, the cost on 2 CPU cores grows with it too.
- ``max_seq_length`` 32 tokens while training (the encoder keeps its own length for encoding): most
  titles fit; long descriptions are cut where most of their signal has already been said, and a step
  costs in proportion to the padded length.
- ``train_layers`` None: every weight learns, as the paper does with its MLLM. ``train_layers=2``
  (only the top two transformer layers) is 4× faster per pair on 2 CPU cores, but on Beauty 20,000
  pairs that way gave a lower level-1 agreement than 6,000 pairs through the whole model (10.6% vs
  11.2%, one seed, BENCHMARKS.md).
- The epoch with the lowest loss on 5% held-out pairs is kept (patience 1).
"""

from __future__ import annotations

import math
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sidkit.collab.item_pairs import ItemPairs
from sidkit.content.text_encoder import DEFAULT_MODEL, load_sentence_transformer
from sidkit.errors import SidkitError
from sidkit.objectives.contrastive import info_nce
from sidkit.training.early_stopping import EarlyStopping
from sidkit.training.held_out import held_out_loss, split_held_out


def finetune_encoder(
    texts: list[str],
    pairs: ItemPairs,
    *,
    model: str = DEFAULT_MODEL,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 2e-5,
    temperature: float = 0.05,
    max_seq_length: int = 32,
    train_layers: int | None = None,
    max_pairs: int | None = None,
    valid_frac: float = 0.05,
    seed: int = 0,
    progress: bool = False,
) -> tuple[Any, list[dict[str, float]]]:
    """Fine-tune ``model`` so that each pair's texts are nearer each other than the batch's other texts.

    Returns (the SentenceTransformer, in eval mode, with the best epoch's weights; per-epoch history with
    train/valid loss, pairs per second). ``max_pairs`` trains on a seeded sample of the pairs.
    """
    if len(pairs) < 2:
        raise SidkitError("encoder fine-tuning needs item pairs; the interactions gave fewer than 2")
    if len(texts) <= max(int(pairs.trigger.max()), int(pairs.target.max())):
        raise SidkitError(f"encoder fine-tuning: pairs name item {max(pairs.trigger.max(), pairs.target.max())}, "
                          f"but there are {len(texts)} texts; expected one text per catalogue item")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout inside the encoder
    st = load_sentence_transformer(model)
    _freeze_below(st, train_layers)
    trained_length = st.max_seq_length
    st.max_seq_length = min(max_seq_length, trained_length)
    trig, targ = torch.as_tensor(pairs.trigger), torch.as_tensor(pairs.target)
    perm = torch.randperm(len(pairs), generator=g)
    if max_pairs is not None and len(perm) > max_pairs:
        perm = perm[:max_pairs]
    valid, train = split_held_out(perm, valid_frac)

    opt = torch.optim.AdamW([p for p in st.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(train) / batch_size)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))

    def embed(rows: torch.Tensor) -> torch.Tensor:
        features = st.preprocess([texts[i] for i in rows.tolist()])
        return st(features)["sentence_embedding"]

    def batch_loss(rows: torch.Tensor) -> torch.Tensor:
        a, b = trig[rows], targ[rows]
        return info_nce(embed(a), embed(b), a, b, temperature)

    stopping = EarlyStopping(st, patience=1, mode="min")
    for epoch in range(epochs):
        st.train()
        order, losses, t0 = train[torch.randperm(len(train), generator=g)], [], time.perf_counter()
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            if len(rows) < 2:
                continue
            loss = batch_loss(rows)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            if progress and len(losses) % 50 == 0:
                done = start + len(rows)
                print(f"  [encoder] epoch {epoch + 1} {done}/{len(order)} pairs, loss {np.mean(losses[-50:]):.3f}, "
                      f"{done / (time.perf_counter() - t0):.0f} pairs/s", file=sys.stderr, flush=True)
        seconds = time.perf_counter() - t0
        st.eval()
        valid_loss = held_out_loss(batch_loss, valid, batch_size, fallback=float(np.mean(losses)))
        if stopping.update(epoch, valid_loss, train_loss=float(np.mean(losses)), valid_loss=valid_loss,
                           pairs_per_s=len(order) / seconds, seconds=seconds):
            break
    stopping.restore()
    st.max_seq_length = trained_length
    return st, stopping.history


def _freeze_below(st: Any, train_layers: int | None) -> None:
    """Leave only the top ``train_layers`` transformer layers trainable (BERT-style ``encoder.layer.N``)."""
    if train_layers is None:
        return
    layer = re.compile(r"\.layer\.(\d+)\.")
    found = [int(m.group(1)) for n, _ in st.named_parameters() if (m := layer.search(n))]
    if not found:
        raise SidkitError("encoder fine-tuning: train_layers needs a model with numbered transformer layers "
                          "('.layer.N.' in its parameter names); expected such a model, or train_layers=None")
    if train_layers < 1:
        raise SidkitError(f"encoder fine-tuning: train_layers {train_layers}; expected at least 1 (or None: all)")
    first = max(found) + 1 - train_layers
    for name, p in st.named_parameters():
        m = layer.search(name)
        p.requires_grad = bool(m) and int(m.group(1)) >= first


def save_encoder(st: Any, directory: str | Path) -> None:
    """The fine-tuned encoder as a sentence-transformers folder, weights in safetensors (no pickle)."""
    st.save(str(directory), create_model_card=False, safe_serialization=True)
