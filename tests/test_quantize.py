"""Residual k-means against a bare faiss loop, top-K codes, seeding."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from sidkit.errors import SidkitError
from sidkit.quantize import ResidualKMeans, topk_codes


def bare_faiss_residual_kmeans(x: np.ndarray, levels: int, k: int, seed: int) -> np.ndarray:
    """QARM Algorithm 1, written directly against faiss (the reference the benchmark compares to)."""
    residual = x.copy()
    codes = []
    for level in range(levels):
        km = faiss.Kmeans(x.shape[1], k, niter=20, seed=seed + level, max_points_per_centroid=256,
                          min_points_per_centroid=1)
        km.train(residual)
        _, idx = km.index.search(residual, 1)
        residual -= km.centroids[idx[:, 0]]
        codes.append(idx[:, 0])
    return np.stack(codes, axis=1)


def test_residual_kmeans_matches_bare_faiss(rng):
    x = rng.normal(size=(600, 16)).astype(np.float32)
    ours = ResidualKMeans(levels=3, codebook_size=16, seed=3).fit(x)
    np.testing.assert_array_equal(ours.labels_, bare_faiss_residual_kmeans(x, 3, 16, 3))
    np.testing.assert_array_equal(ours.encode(x), ours.labels_)  # frozen codebooks give the same codes back


def test_residual_levels_reduce_error(rng):
    x = rng.normal(size=(800, 12)).astype(np.float32)
    rq = ResidualKMeans(levels=3, codebook_size=16, seed=0).fit(x)
    errors = []
    for lvl in range(1, 4):
        partial = sum(rq.codebooks_[i][rq.labels_[:, i]] for i in range(lvl))
        errors.append(float(((x - partial) ** 2).sum()))
    assert errors[0] > errors[1] > errors[2]
    np.testing.assert_allclose(rq.decode(rq.labels_), sum(rq.codebooks_[i][rq.labels_[:, i]] for i in range(3)))


def test_same_seed_same_codes_other_seed_differs(rng):
    x = rng.normal(size=(500, 8)).astype(np.float32)
    a = ResidualKMeans(2, 32, seed=1).fit(x).labels_
    b = ResidualKMeans(2, 32, seed=1).fit(x).labels_
    c = ResidualKMeans(2, 32, seed=2).fit(x).labels_
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_codebook_larger_than_items_is_refused(rng):
    with pytest.raises(SidkitError, match="codebook size 64 is larger than the 10 items"):
        ResidualKMeans(1, 64).fit(rng.normal(size=(10, 4)).astype(np.float32))


def test_nan_embeddings_are_refused():
    x = np.ones((5, 3), dtype=np.float32)
    x[3, 1] = np.nan
    with pytest.raises(SidkitError, match="row 4"):
        ResidualKMeans(1, 2).fit(x)


def test_topk_codes_exclude_self_and_rank_by_cosine():
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.7, 0.7]], dtype=np.float32)
    codes = topk_codes(x, x, k=2, exclude_self=True)
    assert codes.shape == (5, 2)
    assert (codes != np.arange(5)[:, None]).all()
    assert codes[0, 0] == 1 and codes[2, 0] == 3
    new = topk_codes(np.array([[1, 0.05]], dtype=np.float32), x, k=3)
    assert list(new[0]) == [0, 1, 4]
