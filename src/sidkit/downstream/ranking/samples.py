"""Ranking samples: exposures with labels, a split, and the items held out for cold start.

ml-100k (QARM's shape on public data): a rated movie is an exposure that was clicked; for every rating,
``neg_ratio`` movies the user never rated are sampled as exposures that were not clicked, at the
rating's time. Tasks: ``ctr`` (clicked), ``cvr`` (rating ≥ 4, defined on clicked samples only),
``ctcvr`` (clicked and rating ≥ 4). Split by time: the last ``test_frac`` of ratings (and their
negatives) are test.

Without ratings (Beauty): ``ctr`` only, each user's last item (and its negatives) is test, and an event's
place in the user's sequence is its time.

Cold start: a random ``cold_frac`` of items is removed from training entirely (every sample and every
history entry), so their IDs are never trained; "cold" test samples are those whose item no training
sample has (the held-out items and items first seen after the cut).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sidkit.data.types import Interactions
from sidkit.errors import SidkitError


@dataclass
class RankingSamples:
    users: np.ndarray                 # [S] user index
    items: np.ndarray                 # [S] item index
    time: np.ndarray                  # [S] the exposure's time (its positive's time for negatives)
    labels: dict[str, np.ndarray]     # task -> [S] 0/1
    masks: dict[str, np.ndarray]      # task -> [S] bool: where the task's label is defined
    train: np.ndarray                 # [S] bool
    test: np.ndarray                  # [S] bool
    cold_items: np.ndarray            # item indices held out of training
    positives: Interactions           # the clicks histories are drawn from (cold items removed)
    train_clicks: Interactions        # the clicks of training samples: all that codes may be fitted on
    n_users: int
    n_items: int

    @property
    def tasks(self) -> list[str]:
        return list(self.labels)

    def train_counts(self) -> np.ndarray:
        """Clicks per item in the training samples: the popularity the groups are cut by."""
        clicked = self.train & (self.labels["ctr"] == 1)
        return np.bincount(self.items[clicked], minlength=self.n_items)


def _negatives(inter: Interactions, ratio: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``ratio`` never-interacted items per event, drawn uniformly (rejection against the user's items)."""
    seen = set(zip(inter.users.tolist(), inter.items.tolist()))
    per_user = np.bincount(np.fromiter((u for u, _ in seen), np.int64, len(seen)), minlength=inter.n_users)
    if (per_user >= inter.n_items).any():
        user = inter.user_ids[int(np.flatnonzero(per_user >= inter.n_items)[0])]
        raise SidkitError(f"{inter.source}: user {user!r} interacted with every item; expected unseen items to "
                          "sample non-clicked exposures from")
    users = np.repeat(inter.users, ratio)
    source = np.repeat(np.arange(len(inter)), ratio)
    items = rng.integers(0, inter.n_items, len(users))
    bad = np.fromiter(((u, i) in seen for u, i in zip(users.tolist(), items.tolist())), bool, len(users))
    while bad.any():
        items[bad] = rng.integers(0, inter.n_items, int(bad.sum()))
        bad[bad] = np.fromiter(((u, i) in seen for u, i in zip(users[bad].tolist(), items[bad].tolist())), bool)
    return items, source


def build_samples(inter: Interactions, *, neg_ratio: int = 4, test_frac: float = 0.2, cold_frac: float = 0.1,
                  seed: int = 0) -> RankingSamples:
    if neg_ratio < 1:
        raise SidkitError(f"neg_ratio={neg_ratio}; expected at least 1 negative per click")
    if not 0 <= cold_frac < 1:
        raise SidkitError(f"cold_frac={cold_frac}; expected 0 <= cold_frac < 1")
    rng = np.random.default_rng(seed)
    n = len(inter)
    if inter.timestamp is not None:
        time = inter.timestamp.astype(np.float64)
        cut = np.quantile(time, 1 - test_frac)
        pos_test = time >= cut if test_frac > 0 else np.zeros(n, bool)
        if pos_test.all() or not pos_test.any():
            raise SidkitError(f"{inter.source}: timestamps leave no train/test cut at {test_frac:.0%}")
    else:  # place in the user's sequence; the last one is test
        starts = np.searchsorted(inter.users, inter.users)
        time = (np.arange(n) - starts).astype(np.float64)
        ends = np.r_[inter.users[1:] != inter.users[:-1], True]
        pos_test = ends & (np.bincount(inter.users, minlength=inter.n_users)[inter.users] > 1)
    neg_items, source = _negatives(inter, neg_ratio, rng)
    users = np.r_[inter.users, inter.users[source]]
    items = np.r_[inter.items, neg_items]
    clicked = np.r_[np.ones(n, np.int64), np.zeros(len(source), np.int64)]
    labels = {"ctr": clicked}
    masks = {"ctr": np.ones(len(users), bool)}
    if inter.rating is not None:
        good = np.r_[(inter.rating >= 4).astype(np.int64), np.zeros(len(source), np.int64)]
        labels["cvr"], masks["cvr"] = good, clicked == 1
        labels["ctcvr"], masks["ctcvr"] = good * clicked, np.ones(len(users), bool)
    test = np.r_[pos_test, pos_test[source]]
    cold = np.sort(rng.choice(inter.n_items, int(round(cold_frac * inter.n_items)), replace=False))
    is_cold = np.zeros(inter.n_items, bool)
    is_cold[cold] = True
    train = ~test & ~is_cold[items]
    timed = Interactions(inter.users, inter.items, inter.user_ids, inter.n_items, time, inter.rating, inter.label,
                         inter.source)
    return RankingSamples(users, items, np.r_[time, time[source]], labels, masks, train, test, cold,
                          timed.take(~is_cold[inter.items]), timed.take(~pos_test & ~is_cold[inter.items]),
                          inter.n_users, inter.n_items)


def histories(samples: RankingSamples, length: int = 30) -> np.ndarray:
    """[S, length] the user's latest clicked items strictly before each sample's time (−1 pads), latest
    last. Held-out cold items never appear."""
    pos = samples.positives
    t = pos.timestamp
    # rows are sorted by (user, time): the events before time τ of user u are [start_u, searchsorted);
    # one sorted key (user, time) finds them all at once, so the span covers every time of both sides
    lo = min(t.min(), samples.time.min())
    span = max(t.max(), samples.time.max()) - lo + 2
    key = pos.users.astype(np.float64) * span + (t - lo)
    q = samples.users.astype(np.float64) * span + (samples.time - lo)
    end = np.searchsorted(key, q, side="left")
    start = np.searchsorted(pos.users, samples.users, side="left")
    idx = end[:, None] - length + np.arange(length)[None, :]
    valid = idx >= start[:, None]
    out = np.where(valid, pos.items[np.clip(idx, 0, max(len(pos.items) - 1, 0))], -1)
    return out.astype(np.int64)
