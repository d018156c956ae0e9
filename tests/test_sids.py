"""Quality figures on hand-made codes, disambiguation, files and tokens."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.sids import (SemanticIDs, collab_prefix_agreement, disambiguation_level, sid_quality, sid_to_tokens,
                         with_disambiguation)


def test_quality_on_hand_made_codes():
    codes = np.array([[0, 1], [0, 1], [0, 2], [1, 0]])
    q = sid_quality(codes, [2, 4])
    assert q["collision_rate"] == 0.5  # items 0 and 1 share (0, 1)
    assert q["max_bucket"] == 2
    assert q["utilization"] == [1.0, 0.75]
    assert q["top1_load"] == [0.75, 0.5]
    p1 = np.array([3, 1]) / 4
    assert np.isclose(q["perplexity"][0], np.exp(-(p1 * np.log(p1)).sum()))
    p = np.array([2, 1, 1]) / 4
    assert np.isclose(q["sid_entropy"], -(p * np.log(p)).sum())
    assert q["n_items"] == 4 and q["levels"] == 2 and q["codebook_sizes"] == [2, 4]


def test_collab_prefix_agreement():
    codes = np.array([[0, 1, 5], [0, 1, 6], [0, 2, 5], [3, 1, 5]])
    prev, last = np.array([0, 0, 0]), np.array([1, 2, 3])
    assert collab_prefix_agreement(codes, prev, last) == [2 / 3, 1 / 3, 0.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_disambiguated_sids_are_unique_and_keep_codes(rows):
    codes = np.array(rows, dtype=np.int64)
    sid = with_disambiguation(codes)
    assert len({tuple(r) for r in sid}) == len(codes)
    np.testing.assert_array_equal(sid[:, :-1], codes)
    level = disambiguation_level(codes)
    for r in set(map(tuple, codes)):
        group = np.flatnonzero((codes == r).all(axis=1))
        assert sorted(level[group]) == list(range(len(group)))  # 0..n-1 in catalogue order
        assert list(level[group]) == sorted(level[group])


def test_table_files_follow_the_contract(tmp_path):
    codes = np.array([[0, 1], [0, 1], [1, 2]])
    table = SemanticIDs(["a", "b", "c"], codes, [2, 4], vq_codes=np.array([[1, 2], [0, 2], [0, 1]]))
    table.write(tmp_path, method="test", dataset="toy", seed=7)
    pt = pq.read_table(tmp_path / "sids.parquet")
    assert pt.column_names == ["item_id", "codes", "sid", "vq_codes"]
    assert pt.column("sid").to_pylist() == [[0, 1, 0], [0, 1, 1], [1, 2, 0]]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for key in ("method", "levels", "codebook_sizes", "dataset", "seed", "version", "created"):
        assert key in manifest
    back = SemanticIDs.read(tmp_path / "sids.parquet")
    assert back.item_ids == ["a", "b", "c"]
    np.testing.assert_array_equal(back.codes, codes)
    np.testing.assert_array_equal(back.vq_codes, table.vq_codes)
    tokens = json.loads((tmp_path / "sid_tokens.json").read_text())
    assert tokens["items"]["b"] == "<a_0><b_1><c_1>"
    assert set(tokens["vocabulary"]) >= {"<a_0>", "<a_1>", "<b_3>", "<c_0>", "<c_1>"}
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left


def test_tokens():
    assert sid_to_tokens([12, 3, 200, 0]) == "<a_12><b_3><c_200><d_0>"


def test_rows_of_maps_ids_and_names_the_first_missing_one():
    from sidkit.errors import SidkitError

    table = SemanticIDs(["a", "b", "c"], np.array([[0, 1], [1, 0], [0, 1]]), [2, 2])
    assert table.rows_of(["c", "a"], "t.parquet").tolist() == [2, 0]
    with pytest.raises(SidkitError, match=r"t.parquet: item 'x' of the data set has no SID \(2 missing\)"):
        table.rows_of(["a", "x", "y"], "t.parquet")
    users = SemanticIDs(["u1"], np.array([[0]]), [1], id_column="user_id")
    with pytest.raises(SidkitError, match="user 'u2'"):
        users.rows_of(["u2"], "user_sids.parquet")
