"""AdaSID's adaptive overlap regulation on hand-made batches, its schedule, and the method on real data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sidkit.methods import AdaSID, load_tokenizer
from sidkit.objectives import AdaptiveOverlap, Batch
from sidkit.objectives.adaptive_overlap import signature_load
from sidkit.objectives.progress_schedule import ProgressSchedule


def _rows():
    c = 0.99
    z = torch.tensor([[1.0, 0.0], [c, math.sqrt(1 - c * c)], [0.0, 1.0]])
    codes = torch.tensor([[1, 2, 3], [1, 2, 3], [1, 5, 6]])  # rows 0-1 collide fully; row 2 shares level 1
    return Batch(torch.zeros(3, 2), torch.tensor([0, 1, 2]), 0), z, codes


def test_sear_relaxes_only_pairs_alike_enough_for_their_depth():
    batch, z, codes = _rows()
    obj = AdaptiveOverlap(eta=[0.5, 0.9, 0.98], margins=[0.2, 0.5, 0.8], las=False)
    out = obj(batch, z, z, codes, 0)
    assert out["n_overlap_pairs"].item() == 3
    assert out["n_full_overlap_pairs"].item() == 1
    assert out["n_relaxed_pairs"].item() == 1  # (0, 1): cos 0.99 ≥ η₃ = 0.98; (0, 2), (1, 2): cos ≈ 0 < η₁
    # the relaxed full collision is not pushed; the depth-1 pairs have D ≈ 1 ≥ margin 0.2: hinge 0
    assert out["overlap"].item() == pytest.approx(0.0, abs=1e-6)
    stricter = AdaptiveOverlap(eta=[0.5, 0.9, 0.995], margins=[0.2, 0.5, 0.8], las=False)(batch, z, z, codes, 0)
    assert stricter["n_relaxed_pairs"].item() == 0
    # now (0, 1) is repelled: hinge 0.8 − (1 − 0.99), counted twice (ordered), mean over 6 ordered pairs
    assert stricter["overlap"].item() == pytest.approx(2 * (0.8 - 0.01) / 6, rel=1e-4)
    no_sear = AdaptiveOverlap(eta=[0.5, 0.9, 0.98], margins=[0.2, 0.5, 0.8], las=False, sear=False)
    assert no_sear(batch, z, z, codes, 0)["overlap"].item() == pytest.approx(stricter["overlap"].item())


def test_load_counts_pairs_per_signature():
    codes = torch.tensor([[1, 2, 3], [1, 2, 4], [1, 7, 8], [9, 2, 5]])
    agree = codes[:, None, :] == codes[None, :, :]
    pairs = agree.any(-1) & ~torch.eye(4, dtype=torch.bool)
    load = signature_load(agree, pairs)
    # signatures: (0,1) levels {1,2}; (0,2), (1,2) level {1}; (0,3), (1,3) level {2}; (2,3) no overlap
    assert load[0, 1] == 1 and load[0, 2] == 2 and load[1, 2] == 2 and load[0, 3] == 2 and load[3, 1] == 2
    assert load[2, 3] == 0


def test_load_weight_is_bounded_and_increasing():
    obj = AdaptiveOverlap(f_min=0.5, f_max=2.0, d_max=10, alpha=2.0)
    w = obj.load_weight(torch.arange(0, 30))
    assert w[0].item() == pytest.approx(0.5) and w[10].item() == pytest.approx(2.0) and w[29].item() == pytest.approx(2.0)
    assert torch.all(torch.diff(w) >= 0)
    assert w[5].item() == pytest.approx(0.5 + 1.5 * 0.25)  # (5/10)^2


def test_progress_schedule_start_middle_end():
    s = ProgressSchedule(t_start=100, t_end=300, lambda_col_min=0.2, lambda_cf_max=0.5)
    assert (s.col(0), s.cf(0)) == (1.0, 0.0)
    assert s.col(200) == pytest.approx(0.6) and s.cf(200) == pytest.approx(0.25)
    assert (s.col(300), s.cf(300)) == (pytest.approx(0.2), pytest.approx(0.5))
    assert (s.col(10_000), s.cf(10_000)) == (pytest.approx(0.2), pytest.approx(0.5))


def test_adasid_trains_with_its_schedule_and_round_trips(scientific_prepared, tmp_path):
    x, pairs = scientific_prepared.embeddings, scientific_prepared.pairs
    tok = AdaSID(steps=40, batch_size=256, codebook_size=32, restart_every=20, seed=0).fit(x, pairs, progress=False)
    log = tok.training_log_
    assert log[0]["n_lambda_cf"] == 0.0 and log[-1]["n_lambda_cf"] == pytest.approx(1.0)
    assert log[0]["n_lambda_col"] == 1.0 and log[-1]["n_lambda_col"] == pytest.approx(0.1)
    assert {"overlap", "contrastive", "n_relaxed_pairs"} <= set(log[-1])
    tok.save(tmp_path / "m")
    loaded = load_tokenizer(tmp_path / "m")
    assert loaded.get_params() == tok.get_params()
    np.testing.assert_array_equal(loaded.encode(x), tok.labels_)
    flat = AdaSID(steps=10, batch_size=256, codebook_size=32, par=False, las=False, seed=0).fit(
        x, pairs, progress=False)
    assert {e["n_lambda_cf"] for e in flat.training_log_} == {1.0}
