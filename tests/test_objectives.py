"""Objectives and the quantizer on hand-made batches whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.collab.item_pairs import ItemPairs
from sidkit.collab.pair_batches import BatchPlan
from sidkit.methods.rqvae_network import RQVAENetwork
from sidkit.methods.train_loop import colliding_pairs
from sidkit.objectives import (Batch, HammingRepulsion, PairContrastive, hamming_distance, info_nce, loss_total,
                               valid_pair_mask)
from sidkit.quantize.gradient_estimators import rotation_trick, straight_through
from sidkit.quantize.residual_vq import ResidualVQ


def test_cvpm_masks_self_same_item_and_mined_positives():
    # 3 pairs: triggers 10, 11, 12 then targets 20, 10, 21 (item 10 appears twice: rows 0 and 4)
    items = torch.tensor([10, 11, 12, 20, 10, 21])
    got = valid_pair_mask(items, n_pairs=3)
    expect = ~torch.eye(6, dtype=torch.bool)
    for i, j in [(0, 4), (0, 3), (1, 4), (2, 5)]:  # same item; the three constructed positive pairs
        expect[i, j] = expect[j, i] = False
    assert torch.equal(got, expect)
    assert torch.equal(valid_pair_mask(items, 3, conflict_aware=False), ~torch.eye(6, dtype=torch.bool))
    # an item batch has no constructed pairs: only self and repeated items are masked
    plain = valid_pair_mask(torch.tensor([1, 2, 1]))
    assert plain.tolist() == [[False, True, False], [True, False, True], [False, True, False]]


def _hand_batch():
    s = 1 / math.sqrt(2)
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [s, s]], requires_grad=True)
    codes = torch.tensor([[1, 2, 3], [1, 2, 3], [1, 2, 4], [1, 2, 5]])
    return Batch(torch.zeros(4, 2), torch.tensor([0, 1, 2, 3]), 0), z, codes


def test_hamr_hinge_values_for_full_and_partial_groups():
    batch, z, codes = _hand_batch()
    out = HammingRepulsion()(batch, z, z, codes, step=0)
    # full group: rows 0 and 1 (H = 0, D = 0): hinge 0.8 for each ordered pair, mean 0.8, weight 0.2
    assert out["hamr_full"].item() == pytest.approx(0.2 * 0.8)
    assert out["n_hamr_full_pairs"].item() == 1
    # partial group (H = 1): pairs (0,2), (1,2) with D = 1 (hinge 0) and (0,3), (1,3), (2,3) with
    # D = 1 − 1/√2 (hinge 0.5 − D); mean over the 5 pairs, weight 0.1
    d = 1 - 1 / math.sqrt(2)
    assert out["hamr_partial"].item() == pytest.approx(0.1 * 3 * (0.5 - d) / 5, rel=1e-5)
    assert out["n_hamr_partial_pairs"].item() == 5
    # R = 0 leaves the partial group empty; margins and weights are config values
    out = HammingRepulsion(radius=0, margin_full=0.5, weight_full=1.0)(batch, z, z, codes, 0)
    assert out["hamr_partial"].item() == 0
    assert out["hamr_full"].item() == pytest.approx(0.5)


def test_hamr_skips_rows_of_the_same_item_and_positive_pairs_only_with_cvpm():
    _, z, codes = _hand_batch()
    same_item = Batch(torch.zeros(4, 2), torch.tensor([7, 7, 2, 3]), 0)  # rows 0 and 1 are one item
    assert HammingRepulsion()(same_item, z, z, codes, 0)["n_hamr_full_pairs"].item() == 0
    assert HammingRepulsion(cvpm=False)(same_item, z, z, codes, 0)["n_hamr_full_pairs"].item() == 1
    pairs = Batch(torch.zeros(4, 2), torch.tensor([0, 1, 2, 3]), 2)  # (0,2), (1,3) are mined positives
    out = HammingRepulsion()(pairs, z, z, codes, 0)
    assert out["n_hamr_full_pairs"].item() == 1  # rows 0-1 are not a mined pair: still repelled
    assert out["n_hamr_partial_pairs"].item() == 3  # (0,2) and (1,3) leave the group


def test_hamr_gradient_pushes_colliding_rows_apart():
    batch, z, codes = _hand_batch()
    z = torch.tensor([[1.0, 0.1], [1.0, -0.1], [0.0, 1.0], [-1.0, 0.0]], requires_grad=True)
    loss_total(HammingRepulsion()(batch, z, z, codes, 0)).backward()
    with torch.no_grad():
        moved = z - 0.1 * z.grad
        before = F.cosine_similarity(z[0], z[1], dim=0)
        after = F.cosine_similarity(moved[0], moved[1], dim=0)
    assert after < before


def test_info_nce_false_negative_mask_removes_columns():
    g = torch.Generator().manual_seed(0)
    a, p = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    anchors = torch.tensor([1, 1, 2, 3])   # rows 0 and 1 share a trigger
    targets = torch.tensor([5, 6, 5, 7])   # rows 0 and 2 share a target
    got = info_nce(a, p, anchors, targets, temperature=0.1, symmetric=False, same_anchor=True)
    logits = F.normalize(a, dim=-1) @ F.normalize(p, dim=-1).T / 0.1
    keep = [[0, 3], [1, 2, 3], [1, 2, 3], [0, 1, 2, 3]]  # row 0: not 1 (same trigger), not 2 (same target)
    expect = torch.stack([-logits[i, i] + torch.logsumexp(logits[i, keep[i]], 0) for i in range(4)]).mean()
    assert got.item() == pytest.approx(expect.item(), rel=1e-5)
    unmasked = info_nce(a, p, temperature=0.1, symmetric=False)
    assert unmasked.item() > got.item()  # removing columns can only lower each row's loss


def test_pair_contrastive_reads_the_pair_layout():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, 4, generator=g)
    batch = Batch(torch.zeros(6, 4), torch.tensor([1, 2, 3, 4, 5, 6]), 3)
    out = PairContrastive(weight=0.5, temperature=0.2)(batch, z, z, torch.zeros(6, 3, dtype=torch.long), 0)
    expect = 0.5 * info_nce(z[:3], z[3:], temperature=0.2, symmetric=False)
    assert out["contrastive"].item() == pytest.approx(expect.item(), rel=1e-5)
    with pytest.raises(ValueError):
        PairContrastive()(Batch(torch.zeros(6, 4), torch.arange(6), 0), z, z, torch.zeros(6, 3), 0)


@pytest.mark.parametrize("gradient", ["ste", "rotation"])
def test_gradient_reaches_the_encoder_through_the_quantizer(gradient):
    torch.manual_seed(0)
    net = RQVAENetwork(16, [32], dim=8, levels=2, codebook_size=4, gradient=gradient)
    x = torch.randn(10, 16)
    x_hat, z, q = net(x)
    ((x - x_hat) ** 2).sum().backward()  # reconstruction only: no commitment term to carry gradient
    assert net.encoder[0].weight.grad is not None and net.encoder[0].weight.grad.abs().sum() > 0
    # the quantized vector's value is the codeword sum, whatever the estimator
    assert torch.allclose(q.z_q, net.quantizer.decode(q.codes), atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_estimators_keep_the_codeword_value(seed):
    g = torch.Generator().manual_seed(seed)
    r, e = torch.randn(5, 6, generator=g), torch.randn(5, 6, generator=g)
    assert torch.allclose(straight_through(r, e), e, atol=1e-5)
    assert torch.allclose(rotation_trick(r, e), e, atol=1e-4)


def test_residual_vq_codes_match_encode_and_losses():
    torch.manual_seed(0)
    vq = ResidualVQ(levels=3, codebook_size=8, dim=4)
    z = torch.randn(50, 4)
    vq.init_from(z.numpy(), seed=0)
    q = vq(z)
    assert torch.equal(q.codes, vq.encode(z))
    residual = z - vq.decode(q.codes)
    assert q.losses["codebook"].item() > 0
    # the last level's error is what is left after all levels
    last = ((q.residuals[-1] - vq.codebooks[2][q.codes[:, 2]]) ** 2).sum(-1).mean()
    assert torch.allclose(last, (residual ** 2).sum(-1).mean(), atol=1e-5)


def test_dead_codes_move_onto_batch_residuals():
    vq = ResidualVQ(levels=1, codebook_size=4, dim=2)
    with torch.no_grad():
        vq.codebooks.copy_(torch.tensor([[[0.0, 0.0], [100.0, 100.0], [1.0, 0.0], [-100.0, 5.0]]]))
    z = torch.tensor([[0.1, 0.0], [0.9, 0.0], [1.1, 0.1]])
    q = vq(z)
    assert vq.usage[0].tolist() == [1, 0, 2, 0]
    moved = vq.restart_dead(q.residuals, torch.Generator().manual_seed(0))
    assert moved == 2
    for k in (1, 3):  # each dead codeword now sits on one of the batch's rows
        assert any(torch.allclose(vq.codebooks[0, k], row) for row in z)
    assert vq.usage.sum() == 0


def test_pair_batches_layout_determinism_and_shards():
    pairs = ItemPairs.of(np.arange(10), np.arange(10) + 100, "u2i")
    plan = BatchPlan(200, pairs, batch_size=8, seed=3)
    rows, n_pairs = plan.rows(0)
    assert n_pairs == 4 and len(rows) == 8
    np.testing.assert_array_equal(rows[4:], rows[:4] + 100)  # row i and row i + B are a mined pair
    assert plan.steps_per_epoch == 2
    again = BatchPlan(200, pairs, batch_size=8, seed=3)
    np.testing.assert_array_equal(again.rows(5)[0], plan.rows(5)[0])  # order depends on (seed, step) only
    shards = [plan.rows(1, rank, 2) for rank in range(2)]
    assert all(n == 2 for _, n in shards)
    triggers = np.sort(np.concatenate([r[:n] for r, n in shards]))
    np.testing.assert_array_equal(triggers, np.sort(plan.rows(1)[0][:4]))
    items = BatchPlan(10, None, batch_size=4, seed=0)
    seen = np.concatenate([items.rows(s)[0] for s in range(items.steps_per_epoch)])
    assert len(set(seen.tolist())) == len(seen) == 8  # an epoch visits items without repeats


def test_colliding_pairs_counts_distinct_items_only():
    codes = torch.tensor([[1, 2], [1, 2], [1, 2], [3, 4], [3, 4]])
    assert colliding_pairs(codes, torch.tensor([0, 1, 2, 3, 4])) == 4
    assert colliding_pairs(codes, torch.tensor([0, 0, 2, 3, 3])) == 2  # the same item twice is not a collision


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=4, max_size=12), st.integers(0, 10_000))
def test_hamming_and_mask_are_symmetric(items, seed):
    g = torch.Generator().manual_seed(seed)
    n = len(items) // 2
    t = torch.tensor(items)
    m = valid_pair_mask(t, n)
    assert torch.equal(m, m.T) and not m.diagonal().any()
    codes = torch.randint(0, 3, (len(items), 3), generator=g)
    h = hamming_distance(codes)
    assert torch.equal(h, h.T) and (h.diagonal() == 0).all()
    z = torch.randn(len(items), 4, generator=g)
    out = HammingRepulsion()(Batch(torch.zeros(len(items), 2), t, n), z, None, codes, 0)
    # the loss against the formula pair by pair: a hinge mean over the valid pairs of each Hamming group
    zn = F.normalize(z, dim=-1)
    full, partial = [], []
    for i in range(len(items)):
        for j in range(len(items)):
            if not m[i, j]:
                continue
            d = 1 - float(zn[i] @ zn[j])
            if h[i, j] == 0:
                full.append(max(0.0, 0.8 - d))
            elif h[i, j] <= 1:
                partial.append(max(0.0, 0.5 - d))
    assert out["hamr_full"].item() == pytest.approx(0.2 * (np.mean(full) if full else 0.0), abs=1e-5)
    assert out["hamr_partial"].item() == pytest.approx(0.1 * (np.mean(partial) if partial else 0.0), abs=1e-5)
    assert out["n_hamr_full_pairs"].item() == len(full) / 2
