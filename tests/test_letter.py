"""LETTER (methods/letter.py) and its two objectives: CF alignment and codeword diversity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.cli import main
from sidkit.collab.item_factors import item_factors
from sidkit.errors import SidkitError
from sidkit.methods import RQVAE, load_tokenizer
from sidkit.methods.letter import LETTER
from sidkit.objectives.base import Batch, TrainingContext
from sidkit.objectives.cf_alignment import CFAlignment
from sidkit.objectives.code_diversity import balanced_clusters, cluster_partners

@pytest.fixture(scope="module")
def data(scientific_prepared):
    return scientific_prepared.embeddings, scientific_prepared.train


@pytest.fixture(scope="module")
def letters(data):
    """LETTER with its CF term at weight 1, and without the CF term (seed 0, 200 steps)."""
    x, train = data
    fit = lambda **kw: LETTER(steps=200, seed=0, select="last", **kw).fit(x, interactions=train, progress=False)  # noqa: E731
    return fit(collab_weight=1.0), fit(collab=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=2, max_size=60), st.integers(0, 2**31 - 1))
def test_a_diversity_partner_is_another_code_of_the_same_cluster(labels, seed):
    labels = np.asarray(labels)
    codes = torch.arange(len(labels))
    partner = cluster_partners(labels, codes, torch.Generator().manual_seed(seed)).numpy()
    alone = np.bincount(labels)[labels] == 1
    assert (partner[alone] == -1).all()
    assert (partner[~alone] != codes.numpy()[~alone]).all()
    assert (labels[partner[~alone]] == labels[~alone]).all()


def test_diversity_clusters_are_near_equal_where_k_means_is_lopsided():
    rng = np.random.default_rng(0)
    points = rng.normal(0, 1, (256, 32)).astype(np.float32)
    points[:128] *= 0.2  # half the codewords packed in a small ball: plain k-means puts 179 in one cluster
    sizes = np.bincount(balanced_clusters(points, 10, seed=0), minlength=10)
    assert sizes.min() >= 8 and sizes.max() <= 100, sizes  # measured 19..37; unbalanced 1..179


def test_cf_alignment_scores_own_factors_and_leaves_cold_items_out(data):
    x, train = data
    obj = CFAlignment(weight=1.0)
    net = RQVAE(steps=1).fit(x[:600], progress=False).net_  # only its code dimension is read
    obj.start(TrainingContext(net, train, seed=0))
    factors, warm = item_factors(train, "cooc", 32, 0)
    items = torch.from_numpy(np.concatenate([np.flatnonzero(warm)[:64], np.flatnonzero(~warm)[:8]]))
    batch = Batch(torch.from_numpy(x)[items], items)
    own = torch.from_numpy(factors)[items]
    aligned = obj(batch, own, own, torch.zeros(len(items), 3, dtype=torch.long), 0)
    shuffled = obj(batch, own.roll(1, 0), own.roll(1, 0), torch.zeros(len(items), 3, dtype=torch.long), 0)
    assert aligned["n_cf_rows"] == 64  # the 8 items without clicks take no part
    assert aligned["cf_alignment"] < shuffled["cf_alignment"] - 1.0


def test_the_cf_term_pulls_codes_towards_the_items_own_factors(letters, data):
    """Mean cosine of an item's ẑ with its own CF factor minus its mean cosine with 511 other clicked
    items' factors. Measured 0.26 with the CF term at weight 1 and 0.003 without it; the 0.1 margin
    leaves room for other CPUs' rounding."""
    x, train = data
    factors, warm = item_factors(train, "cooc", 32, 0)
    rows = np.flatnonzero(warm)[:512]

    def gap(tok) -> float:
        zq = tok.net_.quantizer.decode(torch.from_numpy(tok.labels_[rows]))
        f = torch.nn.functional.normalize(torch.from_numpy(factors[rows]), dim=1)
        sim = torch.nn.functional.normalize(zq, dim=1) @ f.T
        return float(sim.diag().mean() - sim.mean())

    with_cf, without = gap(letters[0]), gap(letters[1])
    assert with_cf > without + 0.1, (with_cf, without)


def test_same_seed_same_letter_codes_and_the_saved_model_encodes_the_same(data, tmp_path):
    x, train = data
    x, train = x[:1500], train.first_items(1500)
    fit = lambda: LETTER(steps=40, codebook_size=64, seed=3, select_every=20).fit(  # noqa: E731
        x, interactions=train, progress=False)
    a, b = fit(), fit()
    assert np.array_equal(a.labels_, b.labels_)
    a.save(tmp_path / "m")
    assert np.array_equal(load_tokenizer(tmp_path / "m").encode(x), a.labels_)
    for key in ("cf_alignment", "n_cf_rows", "code_diversity", "reconstruction"):
        assert key in a.training_log_[-1], key


def test_cf_alignment_without_clicks_is_refused(data):
    x, _ = data
    with pytest.raises(SidkitError, match="needs the training interactions"):
        RQVAE(objectives=["cf_alignment"], steps=2).fit(x, progress=False)
    with pytest.raises(SidkitError, match="needs the training interactions"):
        LETTER(steps=2).fit(x, progress=False)
    assert LETTER(collab=False).needs_interactions is False


def test_fit_letter_without_interactions_is_one_line(scientific_prepared, tmp_path, capsys):
    items = tmp_path / "items.parquet"
    pd.DataFrame({"item_id": scientific_prepared.dataset.catalog.item_ids[:300],
                  "emb": list(scientific_prepared.embeddings[:300])}).to_parquet(items)
    assert main(["fit", "letter", "--items", str(items), "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--interactions" in err, err
    assert not (tmp_path / "o").exists()
