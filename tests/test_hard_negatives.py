"""QARM's hard negatives: content neighbours of the trigger that were never mined as its positives, and
the InfoNCE columns they add."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.collab.item_pairs import ItemPairs
from sidkit.methods.hard_negatives import HardNegatives
from sidkit.objectives.contrastive import info_nce


def line_items(n: int) -> np.ndarray:
    """Unit vectors on an arc: item i's nearest neighbours are i ± 1, i ± 2, ..."""
    angle = np.linspace(0, 1.5, n)
    return np.stack([np.cos(angle), np.sin(angle)], 1).astype(np.float32)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_hard_negatives_are_unclicked_content_neighbours(seed, k):
    x = line_items(12)
    pairs = ItemPairs(np.array([5, 5, 7]), np.array([4, 6, 5]), np.zeros(3, np.int64))
    hard = HardNegatives(x, pairs, pool=4)
    anchors = torch.tensor([5, 7, 0] * 4)
    picked = hard.sample(anchors, k, torch.Generator().manual_seed(seed))
    assert picked.shape == (12, k)
    for a, row in zip(anchors.tolist(), picked.tolist()):
        # 5's 4 nearest are 4, 6, 3, 7: 4, 6 are its targets and 7 its trigger in another pair
        allowed = {5: {3}, 7: {6, 8, 9}, 0: {1, 2, 3, 4}}[a]
        real = [i for i in row if i >= 0]
        assert set(real) <= allowed and len(real) == len(set(real)) == min(k, len(allowed))
        assert row.count(-1) == k - len(real)


def test_hard_negative_columns_enter_the_softmax_and_padding_does_not():
    torch.manual_seed(0)
    a, p = torch.randn(3, 4), torch.randn(3, 4)
    neg = torch.randn(3, 2, 4)
    ids = torch.tensor([[7, -1], [8, 9], [-1, -1]])
    got = info_nce(a, p, temperature=0.5, symmetric=False, negatives=neg, negative_ids=ids)
    an, pn, nn_ = F.normalize(a, dim=-1), F.normalize(p, dim=-1), F.normalize(neg, dim=-1)
    want = []
    for i in range(3):
        cols = [an[i] @ pn[j] for j in range(3)] + [an[i] @ nn_[i, m] for m in range(2) if ids[i, m] >= 0]
        logits = torch.stack(cols) / 0.5
        want.append(-F.log_softmax(logits, 0)[i])
    torch.testing.assert_close(got, torch.stack(want).mean())
    # a hard negative that is the row's own positive item is masked, not pushed away
    same = info_nce(a, p, torch.tensor([0, 1, 2]), torch.tensor([10, 11, 12]), 0.5, symmetric=False,
                    negatives=neg[:, :1], negative_ids=torch.tensor([[10], [11], [12]]))
    torch.testing.assert_close(same, info_nce(a, p, torch.tensor([0, 1, 2]), torch.tensor([10, 11, 12]), 0.5,
                                              symmetric=False))
