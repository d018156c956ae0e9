"""A row's nearest codeword does not depend on the batch it is encoded in (quantize/exact_rerank.py):
what lets the Ray path, which encodes piece by piece in single-threaded actors, give the in-process SIDs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.quantize.exact_rerank import exact_order
from sidkit.quantize.kmeans import nearest
from sidkit.quantize.residual_kmeans import ResidualKMeans
from sidkit.quantize.sinkhorn import priced_nearest


def _float64_order(x: np.ndarray, c: np.ndarray, prices: np.ndarray | None = None) -> np.ndarray:
    d = ((x[:, None, :].astype(np.float64) - c[None].astype(np.float64)) ** 2).sum(-1)
    if prices is not None:
        d = d - prices[None, :]
    return np.argsort(d, axis=1, kind="stable")  # stable: ties to the lower code


def test_exact_ties_go_to_the_lower_code_in_any_batch():
    c = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 3.0]], dtype=np.float32)  # 0 and 2 identical
    x = np.array([[0.0, 0.0], [2.0, 0.0], [0.5, 0.1]], dtype=np.float32)  # row 0: 0, 1, 2 all at distance 1
    assert nearest(x, c).tolist() == [0, 0, 0]
    assert [int(nearest(x[i:i + 1], c)[0]) for i in range(3)] == [0, 0, 0]
    assert nearest(x, c, k=3)[0].tolist() == [0, 1, 2]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.sampled_from([2, 7, 33]))
def test_nearest_is_the_float64_choice_whatever_the_batch(seed, n_codes, batch):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(n_codes, 24)).astype(np.float32)
    # near-ties on purpose: points halfway between two codewords, nudged by float32 noise
    a, b = rng.integers(0, n_codes, 2)
    mid = (c[a] + c[b]) / 2 + rng.normal(scale=1e-7, size=(50, 24)).astype(np.float32)
    x = np.concatenate([rng.normal(size=(150, 24)).astype(np.float32), mid])
    whole = nearest(x, c, k=min(3, n_codes)).reshape(len(x), -1)
    pieces = np.concatenate([nearest(x[s:s + batch], c, k=min(3, n_codes)).reshape(-1, whole.shape[1])
                             for s in range(0, len(x), batch)])
    np.testing.assert_array_equal(whole, pieces)
    np.testing.assert_array_equal(whole, _float64_order(x, c)[:, :whole.shape[1]])


def test_priced_nearest_is_the_exact_priced_choice_whatever_the_batch():
    rng = np.random.default_rng(1)
    c = rng.normal(size=(16, 8)).astype(np.float32)
    prices = rng.normal(scale=0.5, size=16)
    x = np.concatenate([rng.normal(size=(300, 8)), np.repeat((c[3:4] + c[5:6]) / 2, 20, 0)]).astype(np.float32)
    whole = priced_nearest(x, c, prices, k=4)
    pieces = np.concatenate([priced_nearest(x[s:s + 9], c, prices, k=4) for s in range(0, len(x), 9)])
    np.testing.assert_array_equal(whole, pieces)
    np.testing.assert_array_equal(whole, exact_order(x, c, 4, prices))


def test_residual_kmeans_codes_do_not_depend_on_the_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 16)).astype(np.float32)
    rq = ResidualKMeans(levels=3, codebook_size=16, seed=0).fit(x)
    whole = rq.encode(x)
    np.testing.assert_array_equal(whole, np.concatenate([rq.encode(x[s:s + 37]) for s in range(0, len(x), 37)]))
    codes, cand = rq.candidates(x, 5)
    parts = [rq.candidates(x[s:s + 37], 5) for s in range(0, len(x), 37)]
    np.testing.assert_array_equal(codes, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(cand, np.concatenate([p[1] for p in parts]))
