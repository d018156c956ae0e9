"""Beam search constrained to the SID trie, batched over queries: every answer is a real item.

``step(tokens)`` is the model: given the tokens decoded so far for every beam of every query
(``[Q · beam, d]``, level codes, query-major rows) it returns log-probabilities over level d's codes
``[Q · beam, ≥ V_d]``. Tokens that continue no item's SID are masked before the top-k, so a beam can
only ever hold a valid prefix; at the last level each surviving beam is one catalogue item. A beam's
score is the sum of its tokens' log-probabilities, and results come best first.

With fewer valid items than beams (a small catalogue, or a narrow prefix) the extra beams die
(score −inf, item −1) instead of repeating an item.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from sidkit.downstream.generative.trie import SIDTrie


def constrained_beam_search(step: Callable[[torch.Tensor], torch.Tensor], trie: SIDTrie, n_queries: int,
                            beam: int) -> tuple[np.ndarray, np.ndarray]:
    """(items [Q, beam] best first, −1 for dead beams; scores [Q, beam])."""
    q_idx = torch.arange(n_queries)[:, None]
    node = torch.zeros(n_queries, beam, dtype=torch.long)
    score = torch.full((n_queries, beam), float("-inf"))
    score[:, 0] = 0.0  # all beams start at the root: only one may expand, or the first level repeats
    tokens = torch.zeros(n_queries, beam, 0, dtype=torch.long)
    for d in range(trie.depth):
        v = trie.sizes[d]
        logp = step(tokens.reshape(n_queries * beam, d))[:, :v].reshape(n_queries, beam, v)
        alive = torch.isfinite(score)
        allowed = torch.from_numpy(trie.allowed[d])[node.clamp(min=0)] & alive[..., None]
        cand = (score[..., None] + logp).masked_fill(~allowed, float("-inf")).reshape(n_queries, beam * v)
        top = cand.topk(min(beam, beam * v), dim=1)
        src, tok = top.indices // v, top.indices % v
        child = torch.from_numpy(trie.child[d])[node[q_idx, src].clamp(min=0), tok]
        score = top.values
        node = torch.where(torch.isfinite(score), child, torch.full_like(child, -1))
        tokens = torch.cat([tokens[q_idx, src], tok[..., None]], dim=2)
        if score.shape[1] < beam:  # fewer candidates than beams at the first level of a tiny vocabulary
            pad = beam - score.shape[1]
            score = torch.cat([score, torch.full((n_queries, pad), float("-inf"))], 1)
            node = torch.cat([node, torch.full((n_queries, pad), -1)], 1)
            tokens = torch.cat([tokens, torch.zeros(n_queries, pad, d + 1, dtype=torch.long)], 1)
    return trie.items_of(node.numpy()), score.numpy()
