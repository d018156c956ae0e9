"""Pair miners on hand-made interactions whose answers are known, and on real data without leakage."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.collab import BPRMF, ItemPairs, cooccurrence_pairs, mine_pairs, swing_scores, u2i_trigger_pairs
from sidkit.data import Interactions, leave_one_out, load_dataset
from sidkit.errors import SidkitError


def _inter(seqs: dict[str, list[int]], n_items: int) -> Interactions:
    users = [u for u, s in seqs.items() for _ in s]
    items = [i for s in seqs.values() for i in s]
    return Interactions.from_events(users, np.array(items), n_items)


def _pairset(p: ItemPairs) -> set[tuple[int, int]]:
    return set(zip(p.trigger.tolist(), p.target.tolist()))


def test_cooccurrence_window_and_min_count():
    inter = _inter({"a": [0, 1, 2, 3], "b": [0, 1, 4]}, 5)
    p = cooccurrence_pairs(inter, window=1, min_count=1, top_k=10)
    assert _pairset(p) == {(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (1, 4), (4, 1)}
    p2 = cooccurrence_pairs(inter, window=1, min_count=2, top_k=10)
    assert _pairset(p2) == {(0, 1), (1, 0)}  # only 0-1 is seen twice
    p3 = cooccurrence_pairs(inter, window=2, min_count=1, top_k=10)
    assert (0, 2) in _pairset(p3) and (0, 3) not in _pairset(p3)


def test_swing_hand_computed():
    # users a, b both took items 0 and 1; c took 0 and 2. alpha = 1.
    inter = _inter({"a": [0, 1], "b": [0, 1], "c": [0, 2]}, 3)
    s = swing_scores(inter, alpha=1.0).toarray()
    # only the pair (a, b) shares items 0 and 1; |I_a ∩ I_b| = 2; w = 1/sqrt(2) each
    expect = (1 / np.sqrt(2)) ** 2 / (1.0 + 2)
    assert np.isclose(s[0, 1], expect) and np.isclose(s[1, 0], expect)
    assert s[0, 2] == 0  # one user pair (a,c) shares 0 but only c took 2
    assert np.allclose(np.diag(s), 0)


def test_u2i_trigger_is_most_similar_previous_item():
    factors = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]], dtype=np.float32)
    inter = _inter({"a": [0, 1, 2, 3]}, 4)
    p = u2i_trigger_pairs(inter, factors, history=50)
    assert _pairset(p) == {(0, 1), (0, 2), (1, 3)}
    p_short = u2i_trigger_pairs(inter, factors, history=1)  # only the directly preceding item may trigger
    assert _pairset(p_short) == {(0, 1), (1, 2), (2, 3)}


def test_u2i_skips_repeats_of_the_target():
    factors = np.eye(3, dtype=np.float32)
    p = u2i_trigger_pairs(_inter({"a": [0, 0]}, 3), factors)
    assert len(p) == 0


def test_bpr_is_seeded():
    inter = _inter({"a": [0, 1, 2], "b": [1, 2, 3], "c": [3, 4]}, 5)
    f1 = BPRMF(dim=8, epochs=3, seed=1).fit(inter).item_factors_
    f2 = BPRMF(dim=8, epochs=3, seed=1).fit(inter).item_factors_
    np.testing.assert_array_equal(f1, f2)


def test_pairs_come_from_training_only():
    """Append one brand-new item as every user's last event: after leave-one-out it is test-only, so no
    miner may ever pair it."""
    ds = load_dataset("scientific")
    inter = ds.interactions
    new = inter.n_items
    users = np.concatenate([inter.users, np.arange(inter.n_users)])
    items = np.concatenate([inter.items, np.full(inter.n_users, new)])
    order = np.argsort(users, kind="stable")
    ids = np.array(inter.user_ids, dtype=object)[users[order]]
    extended = Interactions.from_events(ids, items[order], new + 1)
    split = leave_one_out(extended)
    assert (split.test.items == new).all()
    pairs = mine_pairs(split.train, ("u2i", "swing", "cooccurrence"), seed=0)
    assert len(pairs) > 1000
    assert new not in set(pairs.trigger.tolist()) | set(pairs.target.tolist())


def test_concat_dedupes_unordered_pairs():
    a = ItemPairs.of(np.array([0, 1, 2]), np.array([1, 0, 2]), "u2i")
    b = ItemPairs.of(np.array([0, 3]), np.array([1, 4]), "swing")
    p = ItemPairs.concat([a, b])
    assert _pairset(p) == {(0, 1), (3, 4)}
    assert p.counts() == {"u2i": 1, "swing": 1}


def test_near_duplicate_pairs_are_dropped_at_the_threshold():
    from sidkit.collab.item_pairs import ItemPairs
    from sidkit.collab.near_duplicate_pairs import drop_near_duplicate_pairs

    x = np.array([[1.0, 0.0], [0.96, 0.28], [0.0, 1.0], [0.6, 0.8]])  # unit rows; cos(0,1) = 0.96
    pairs = ItemPairs.of(np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3]), "swing")
    kept = drop_near_duplicate_pairs(pairs, x, 0.95)  # cosines 0.96, 0.0, 0.8, 0.8
    assert list(zip(kept.trigger, kept.target)) == [(0, 2), (1, 3), (2, 3)]
    assert len(drop_near_duplicate_pairs(pairs, x, 0.5)) == 1
    with pytest.raises(SidkitError, match="drop_duplicates"):
        drop_near_duplicate_pairs(pairs, x, 1.5)
