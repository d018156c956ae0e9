"""decode(codes) on the tokenizers, and the quality figures built on it: reconstruction MSE and
neighbour preservation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sidkit.errors import SidkitError
from sidkit.methods import QARM, RQVAE, RQKMeans, load_tokenizer
from sidkit.quantize.residual import residual_walk
from sidkit.quantize.kmeans import nearest
from sidkit.sids.quality import neighbour_preservation
from conftest import N_FIT


def test_the_reported_mse_is_what_decode_of_encode_gives(fitted, scientific_prepared):
    """quality.json's figure, recomputed from the saved model on the fitted items."""
    quality = json.loads((fitted / "quality.json").read_text())
    tok = load_tokenizer(fitted / "model")
    x = scientific_prepared.embeddings[:N_FIT]
    assert tok.reconstruction_mse(x) == pytest.approx(quality["reconstruction_mse"], rel=1e-5)
    # and it is exactly the residual residual k-means leaves: x − decode(encode(x))
    walk = residual_walk(x, tok.rq_.codebooks_, lambda r, c, _: nearest(r, c))
    np.testing.assert_allclose(x - tok.decode(tok.encode(x)), walk.residual, atol=1e-5)
    assert len(quality["neighbour_preservation@10"]) == 3


def test_decode_on_each_kind_of_tokenizer(x_small):
    x, pairs = x_small
    rqk = RQKMeans(levels=2, codebook_size=8).fit(x)
    assert rqk.decode(rqk.labels_).shape == x.shape
    # more levels can only take away error on the fitted rows (each level subtracts the nearest codeword)
    deeper = RQKMeans(levels=3, codebook_size=8).fit(x)
    assert deeper.reconstruction_mse(x) <= rqk.reconstruction_mse(x) + 1e-7
    vae = RQVAE(levels=2, codebook_size=8, hidden=(32,), dim=8, steps=30, batch_size=64).fit(x, progress=False)
    assert vae.decode(vae.labels_).shape == x.shape
    qarm = QARM(levels=2, codebook_size=8, epochs=1, hidden=32).fit(x, pairs)
    # QARM decodes into its aligned space, and measures its error there
    assert qarm.decode(qarm.labels_).shape == qarm.transform(x).shape
    assert qarm.reconstruction_mse(x) == pytest.approx(float(np.mean((qarm.transform(x) - qarm.decode(qarm.labels_)) ** 2)))
    with pytest.raises(SidkitError, match="decode before fit"):
        RQKMeans().decode(np.zeros((1, 3), dtype=np.int64))


@pytest.fixture(scope="module")
def x_small():
    from sidkit.collab.item_pairs import ItemPairs

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(12, 16))[rng.integers(0, 12, 400)] + 0.1 * rng.normal(size=(400, 16))).astype(np.float32)
    trig = rng.integers(0, 400, 600)
    return x, ItemPairs.of(trig, (trig + 1) % 400, "test")


def test_neighbour_preservation_on_constructed_codes():
    rng = np.random.default_rng(0)
    centers = 10 * rng.normal(size=(4, 8))
    group = np.repeat(np.arange(4), 50)
    x = (centers[group] + rng.normal(size=(200, 8))).astype(np.float32)
    by_cluster = np.column_stack([group, rng.integers(0, 5, 200)])
    kept = neighbour_preservation(x, by_cluster, k=10)
    assert kept[0] == 1.0  # every neighbour is in its cluster, and the first code is the cluster
    assert kept[1] <= kept[0]  # sharing two codes implies sharing one
    shuffled = neighbour_preservation(x, by_cluster[rng.permutation(200)], k=10)
    assert shuffled[0] < 0.5  # codes unrelated to the content: about 1/4 by chance
