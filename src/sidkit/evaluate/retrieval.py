"""Top-k retrieval metrics with one held-out item per user (leave-one-out): Recall@k and NDCG@k.

With a single relevant item, Recall@k is a hit (is the target in the first k?) and NDCG@k is
1 / log2(rank + 2) for a target at 0-based ``rank`` < k, else 0 (the ideal DCG is 1). Both are
averaged over users. A ranking may be shorter than k (constrained decoding can run out of valid
items); a target it does not contain counts as a miss.
"""

from __future__ import annotations

import numpy as np

from sidkit.errors import SidkitError


def target_rank(ranked: np.ndarray, target: np.ndarray) -> np.ndarray:
    """[U] 0-based place of each user's target in their ranked list ``ranked`` [U, n] (−1 pads), or −1."""
    ranked, target = np.asarray(ranked), np.asarray(target)
    if ranked.ndim != 2 or len(ranked) != len(target):
        raise SidkitError(f"rankings of shape {ranked.shape} for {len(target)} targets; expected [users, n]")
    hit = ranked == target[:, None]
    return np.where(hit.any(1), hit.argmax(1), -1)


def retrieval_metrics(ranked: np.ndarray, target: np.ndarray, ks: tuple[int, ...] = (5, 10)) -> dict[str, float]:
    """{"recall@k", "ndcg@k"} for each k, averaged over users."""
    rank = target_rank(ranked, target)
    out: dict[str, float] = {}
    for k in ks:
        hit = (rank >= 0) & (rank < k)
        out[f"recall@{k}"] = float(hit.mean()) if len(rank) else float("nan")
        out[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(np.maximum(rank, 0) + 2.0), 0.0).mean()) if len(rank) else float("nan")
    return out


def group_misses(ranked: np.ndarray, target: np.ndarray, group: np.ndarray, k: int = 10) -> float:
    """Share of users whose target is not in the first ``k`` while another item of the target's group is.

    With ``group`` the full code tuple of each item (before the disambiguation level), this is the cost
    of collisions in generative retrieval: the model decoded the right codes and picked the wrong one of
    the items that share them."""
    ranked, target, group = np.asarray(ranked)[:, :k], np.asarray(target), np.asarray(group)
    if len(target) == 0:
        return float("nan")
    rank = target_rank(ranked, target)
    same = (ranked >= 0) & (group[np.maximum(ranked, 0)] == group[target][:, None]) & (ranked != target[:, None])
    return float(((rank < 0) & same.any(axis=1)).mean())


def per_user_scores(rank: np.ndarray, k: int = 10) -> dict[str, np.ndarray]:
    """Per-user ``recall@k`` and ``ndcg@k`` from 0-based target ranks (−1: not retrieved), the values whose
    mean ``retrieval_metrics`` reports; what a paired comparison of two rankers resamples."""
    rank = np.asarray(rank)
    hit = (rank >= 0) & (rank < k)
    return {f"recall@{k}": hit.astype(np.float64),
            f"ndcg@{k}": np.where(hit, 1.0 / np.log2(np.maximum(rank, 0) + 2.0), 0.0)}
