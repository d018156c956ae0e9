"""``--collisions reassign-optimal``: one min-cost matching per prefix group, against greedy ``reassign``."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.sids.collisions import handle_collisions, reassign, reassign_optimal, tuple_loads


@st.composite
def encoded_with_candidates(draw):
    """Random codes over a few prefixes, each row's k candidates distinct with its own code first, and
    some items already in the table."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n, levels, k_last, k = draw(st.integers(1, 40)), draw(st.integers(1, 3)), draw(st.integers(2, 8)), draw(st.integers(1, 4))
    k = min(k, k_last)
    codes = np.column_stack([rng.integers(0, 2, n) for _ in range(levels - 1)] + [rng.integers(0, k_last, n)])
    cand = np.array([[c] + list(rng.permutation([x for x in range(k_last) if x != c])[:k - 1]) for c in codes[:, -1]])
    existing = np.column_stack([rng.integers(0, 2, 5) for _ in range(levels - 1)] + [rng.integers(0, k_last, 5)])
    capacity = draw(st.integers(1, 2))
    return codes, cand, capacity, existing


@settings(max_examples=150, deadline=None)
@given(encoded_with_candidates())
def test_optimal_never_does_worse_than_greedy(case):
    codes, cand, capacity, existing = case
    greedy, g = reassign(codes, cand, capacity, tuple_loads(existing))
    best, o = reassign_optimal(codes, cand, capacity, tuple_loads(existing))
    # lexicographic: as many items placed within capacity, then no more total movement
    assert o["over_capacity"] <= g["over_capacity"]
    if o["over_capacity"] == g["over_capacity"]:
        assert o["moved"] * o["mean_rank"] <= g["moved"] * g["mean_rank"] + 1e-9
    # only the last level moves, and only onto a candidate
    np.testing.assert_array_equal(best[:, :-1], codes[:, :-1])
    assert all(c in row for c, row in zip(best[:, -1], cand))
    # placed items respect the capacity, counting the items already in the table
    loads = tuple_loads(existing) + tuple_loads(best)
    stranded = o["over_capacity"]
    assert sum(max(0, v - max(capacity, tuple_loads(existing)[t])) for t, v in loads.items()) <= stranded


def test_optimal_places_what_greedy_strands():
    """Two items want tuple 0; the first could also go to 1, the second nowhere else. Greedy keeps the
    first on 0 and strands the second; the matching moves the first."""
    codes = np.array([[0], [0]])
    cand = np.array([[0, 1], [0, 2]])
    taken = Counter({(2,): 1})  # tuple 2 is already full
    greedy, g = reassign(codes, cand, 1, Counter(taken))
    best, o = reassign_optimal(codes, cand, 1, Counter(taken))
    assert g["over_capacity"] == 1 and greedy.tolist() == [[0], [0]]
    assert o == {"moved": 1, "over_capacity": 0, "mean_rank": 1.0} and best.tolist() == [[1], [0]]


def test_handle_collisions_reports_the_optimal_mode():
    codes = np.array([[0, 0], [0, 0], [1, 0]])
    cand = np.array([[0, 1], [0, 1], [0, 1]])
    out, encoded, done = handle_collisions({"mode": "reassign-optimal", "k": 2, "capacity": 1},
                                           lambda: codes, lambda k: (codes, cand[:, :k]))
    assert done["mode"] == "reassign-optimal" and done["over_capacity"] == 0
    assert len({tuple(r) for r in out.tolist()}) == 3 and (encoded == codes).all()
