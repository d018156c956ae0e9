"""Train/validation/test splits. Pairs and models see only the training part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sidkit.data.types import Interactions
from sidkit.errors import SidkitError


@dataclass(frozen=True)
class Split:
    train: Interactions
    valid: Interactions
    test: Interactions


def position_from_end(inter: Interactions) -> np.ndarray:
    """0 for each user's last event, 1 for the one before, ... (rows are sorted by user, then time)."""
    counts = np.bincount(inter.users, minlength=inter.n_users)
    ends = np.cumsum(counts)
    return ends[inter.users] - 1 - np.arange(len(inter))


def leave_one_out(inter: Interactions, min_train: int = 1) -> Split:
    """Last event per user is test, second-to-last validation (TIGER/P5 protocol).

    Users with fewer than ``min_train + 2`` events stay wholly in training.
    """
    pos = position_from_end(inter)
    counts = np.bincount(inter.users, minlength=inter.n_users)[inter.users]
    held = counts >= min_train + 2
    return Split(
        train=inter.take(~held | (pos >= 2)),
        valid=inter.take(held & (pos == 1)),
        test=inter.take(held & (pos == 0)),
    )


def temporal(inter: Interactions, test_frac: float = 0.2, valid_frac: float = 0.0) -> Split:
    """Global time cut: the latest ``test_frac`` of events are test, the ``valid_frac`` before them validation."""
    if inter.timestamp is None:
        raise SidkitError(f"{inter.source}: a temporal split needs a timestamp column")
    if not 0 < test_frac < 1 or not 0 <= valid_frac < 1 - test_frac:
        raise SidkitError("temporal split: expected 0 < test_frac and test_frac + valid_frac < 1")
    t = inter.timestamp
    order = np.argsort(t, kind="stable")
    rank = np.empty(len(t), dtype=np.int64)
    rank[order] = np.arange(len(t))
    n = len(t)
    test_start = int(round(n * (1 - test_frac)))
    valid_start = int(round(n * (1 - test_frac - valid_frac)))
    return Split(
        train=inter.take(rank < valid_start),
        valid=inter.take((rank >= valid_start) & (rank < test_start)),
        test=inter.take(rank >= test_start),
    )


def last_transitions(inter: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Each user's last consecutive item pair (previous, last): the held-out transition of leave-one-out."""
    pos = position_from_end(inter)
    last = pos == 0
    prev = pos == 1
    has_prev = np.zeros(inter.n_users, dtype=bool)
    has_prev[inter.users[prev]] = True
    keep_last = last & has_prev[inter.users]
    return inter.items[prev], inter.items[keep_last]
