"""SID feature parameterisations of the ranker: prefix-ngram and ngram rows, exact and hashed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sidkit.downstream.ranking.model import ItemFeatures, RankingModel
from sidkit.downstream.ranking.sid_features import sid_rows
from sidkit.errors import SidkitError


def splitmix64_reference(x: int) -> int:
    """The published algorithm in Python integers, independent of the NumPy version under test."""
    m = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def test_prefix_and_ngram_numbers_by_hand():
    codes, sizes = np.array([[3, 5, 7]]), [8, 8, 8]
    rows, n_rows = sid_rows(codes, sizes, "prefix-ngram")
    # (3) -> 3; (3,5) -> 8 + 3*8+5 = 37; (3,5,7) -> 8 + 64 + (3*8+5)*8+7 = 311
    assert rows.tolist() == [[3, 37, 311]] and n_rows == 8 + 64 + 512
    rows, n_rows = sid_rows(codes, sizes, "ngram", n=2)
    # unigrams at offsets 0, 8, 16; bigrams (0,2) at 24 and (1,2) at 24 + 64
    assert rows.tolist() == [[3, 8 + 5, 16 + 7, 24 + 29, 88 + 47]] and n_rows == 24 + 128


def test_hashed_rows_are_splitmix64_of_the_numbers():
    rows, n_rows = sid_rows(np.array([[3, 5, 7]]), [8, 8, 8], "prefix-ngram", table_size=1000)
    assert n_rows == 1000
    assert rows.tolist() == [[splitmix64_reference(v) % 1000 for v in (3, 37, 311)]]


def test_items_sharing_a_prefix_share_exactly_those_rows():
    codes = np.array([[1, 2, 3], [1, 2, 4], [1, 9, 3], [0, 2, 3]])
    rows, _ = sid_rows(codes, [16, 16, 16], "prefix-ngram", table_size=1 << 20)
    shared = lambda a, b: (rows[a] == rows[b]).tolist()  # noqa: E731
    assert shared(0, 1) == [True, True, False]      # prefix (1, 2)
    assert shared(0, 2) == [True, False, False]     # prefix (1); the equal last code is not shared
    assert shared(0, 3) == [False, False, False]    # per-level tables would share levels 2 and 3 here
    assert len({int(v) for v in rows.ravel()}) == 2 + 3 + 4  # distinct prefixes per level, one row each


def test_the_ranker_embeds_grams_from_one_table():
    codes = np.array([[1, 2, 3], [1, 2, 4], [1, 9, 3]])
    features = ItemFeatures(rq=codes, rq_sizes=[16, 16, 16], user=np.array([[0, 1], [1, 1]]), user_sizes=[2, 2],
                            scheme="ngram", table_size=64, ngram=2)
    model = RankingModel(2, 3, ["ctr"], features, dim=8)
    assert isinstance(model.rq_emb, torch.nn.Embedding) and model.rq_emb.num_embeddings == 64
    assert model.rq_rows.shape == (3, 5) and model.user_rows.shape == (2, 3)
    out = model(torch.tensor([0, 1]), torch.tensor([0, 2]), torch.tensor([[1, -1], [0, 1]]))
    assert out.shape == (2, 1) and torch.isfinite(out).all()


def test_bad_gram_settings_are_one_line():
    with pytest.raises(SidkitError, match="--table-size -1"):
        sid_rows(np.array([[1, 2]]), [4, 4], "prefix-ngram", table_size=-1)
    with pytest.raises(SidkitError, match="expected --table-size N"):
        sid_rows(np.array([[1, 2, 3, 4]]), [256] * 4, "prefix-ngram")
