"""Sinkhorn-balanced assignment and balanced residual k-means (``rq-kmeans --balance``)."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.methods import RQKMeans, load_tokenizer
from sidkit.quantize.kmeans import nearest
from sidkit.quantize.sinkhorn import priced_nearest, sinkhorn_prices, squared_distances
from sidkit.sids import sid_quality


def test_prices_spread_a_crowd_evenly():
    """400 points in one blob by the first of four codes: nearest gives that code almost all of them;
    after Sinkhorn's prices each code gets a quarter (entropic transport is not exact: ±3 of 100)."""
    rng = np.random.default_rng(0)
    codes = np.array([[0, 0], [3, 0], [0, 3], [3, 3]], dtype=np.float32)
    x = (0.8 * rng.normal(size=(400, 2))).astype(np.float32)
    assert np.bincount(nearest(x, codes), minlength=4).max() > 350
    prices = sinkhorn_prices(squared_distances(x, codes), epsilon=0.01, tol=1e-3, iters=5000)
    sizes = np.bincount(priced_nearest(x, codes, prices), minlength=4)
    assert np.abs(sizes - 100).max() <= 3, sizes
    # the k best codes after prices: the best first, all distinct
    top = priced_nearest(x, codes, prices, k=3)
    assert (top[:, 0] == priced_nearest(x, codes, prices)).all() and all(len(set(r)) == 3 for r in top.tolist())


@pytest.fixture(scope="module")
def x_clustered():
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(20, 16))
    weights = rng.dirichlet(np.full(20, 0.3))  # a few big clusters: plain k-means codes are lopsided
    return (centers[rng.choice(20, 3000, p=weights)] + 0.3 * rng.normal(size=(3000, 16))).astype(np.float32)


def test_balanced_codes_are_reproduced_by_encode_and_after_a_reload(x_clustered, tmp_path):
    x = x_clustered
    tok = RQKMeans(levels=2, codebook_size=16, balance=True, seed=0).fit(x)
    np.testing.assert_array_equal(tok.encode(x), tok.labels_)
    codes, cand = tok.candidates(x, 4)
    np.testing.assert_array_equal(codes, tok.labels_)
    tok.save(tmp_path / "model")
    again = load_tokenizer(tmp_path / "model")
    np.testing.assert_array_equal(again.encode(x), tok.labels_)


def test_balance_evens_out_code_use(x_clustered):
    """Perplexity of code use per level: balanced is close to K, plain is far below it on skewed data.
    Wide room on purpose (the figures depend on float rounding of k-means): balanced ≥ 0.9 K, and above
    plain at every level. Measured over seeds 0-2: balanced 15.8-16.0, plain 12.3-14.4."""
    x = x_clustered
    plain = sid_quality(RQKMeans(levels=2, codebook_size=16, seed=0).fit(x).labels_, [16, 16])["perplexity"]
    even = sid_quality(RQKMeans(levels=2, codebook_size=16, balance=True, seed=0).fit(x).labels_, [16, 16])["perplexity"]
    assert min(even) >= 0.9 * 16 and all(e > p for e, p in zip(even, plain)), (plain, even)


def test_rqvae_balanced_after_training_keeps_its_codes_through_encode_and_reload(x_clustered, tmp_path):
    from sidkit.methods import RQVAE

    x = x_clustered
    params = dict(levels=2, codebook_size=16, hidden=(32,), dim=8, steps=40, batch_size=128, seed=0)
    plain = RQVAE(**params).fit(x, progress=False)
    even = RQVAE(**params, balance_levels=1).fit(x, progress=False)
    # training is the same; only the last level's assignment changes
    np.testing.assert_array_equal(even.labels_[:, 0], plain.labels_[:, 0])
    np.testing.assert_array_equal(even.encode(x), even.labels_)
    codes, cand = even.candidates(x, 3)
    np.testing.assert_array_equal(codes, even.labels_)
    assert (cand[:, 0] == codes[:, -1]).all()
    even.save(tmp_path / "model")
    np.testing.assert_array_equal(load_tokenizer(tmp_path / "model").encode(x), even.labels_)
    last = [sid_quality(t.labels_, [16, 16])["perplexity"][1] for t in (plain, even)]
    assert last[1] >= 0.75 * 16 and last[1] > last[0], last  # measured 14.0 vs 4.4: wide room on purpose
