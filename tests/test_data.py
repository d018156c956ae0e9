"""Loaders for the named data sets and generic files; splits without leakage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.data import Catalog, Interactions, last_transitions, leave_one_out, load_dataset, temporal
from sidkit.data.files import read_catalog, read_interactions
from sidkit.errors import SidkitError


def test_embedded_scientific_matches_source_counts():
    ds = load_dataset("scientific")
    assert len(ds.catalog) == 4344
    assert ds.interactions.n_users == 8317
    assert len(ds.interactions) == 58492
    assert all(ds.catalog.text["title"])


def test_embedded_scientific_equals_shared_copy(shared):
    embedded = load_dataset("scientific")
    on_disk = load_dataset("scientific", shared / "scientific")
    assert embedded.catalog.item_ids == on_disk.catalog.item_ids
    assert embedded.catalog.text == on_disk.catalog.text
    np.testing.assert_array_equal(embedded.interactions.items, on_disk.interactions.items)


def test_scientific_keeps_sequence_order():
    ds = load_dataset("scientific")
    seq0 = ds.interactions.sequences()[0]
    assert [ds.catalog.item_ids[i] for i in seq0] == [str(i) for i in range(9)]  # user 0: items 0..8 in order


def test_beauty_p5(shared):
    ds = load_dataset("beauty", shared / "beauty")
    assert len(ds.catalog) == 12101
    assert ds.interactions.n_users == 22363
    assert len(ds.interactions) == 198502
    first = ds.interactions.sequences()[ds.interactions.user_ids.index("1")]
    assert [ds.catalog.item_ids[i] for i in first] == ["1", "2", "3", "4", "5"]


def test_movielens_atomic(shared):
    ds = load_dataset("ml-100k", shared / "ml-100k")
    assert (len(ds.catalog), ds.interactions.n_users, len(ds.interactions)) == (1682, 943, 100000)
    assert ds.interactions.rating is not None and ds.interactions.timestamp is not None
    # sorted by time within each user
    u = ds.interactions.users
    t = ds.interactions.timestamp
    same = u[1:] == u[:-1]
    assert (t[1:][same] >= t[:-1][same]).all()
    assert ds.user_text is not None and set(ds.user_text) >= {"age", "gender", "occupation"}


def test_named_dataset_needs_data_dir():
    from sidkit.errors import SidkitError

    with pytest.raises(SidkitError, match="--data-dir"):
        load_dataset("beauty")


def _toy(users, items, n_items=10, **kw):
    return Interactions.from_events(users, np.asarray(items), n_items, **kw)


def test_leave_one_out_has_no_leakage():
    ds = load_dataset("scientific")
    split = leave_one_out(ds.interactions)
    seqs = ds.interactions.sequences()
    assert len(split.test) == len(split.valid) == ds.interactions.n_users  # every user has ≥ 5 events
    for part, pos in ((split.test, -1), (split.valid, -2)):
        expect = np.array([s[pos] for s in seqs])
        np.testing.assert_array_equal(part.items, expect)
    assert len(split.train) + len(split.valid) + len(split.test) == len(ds.interactions)
    # every user's training events are exactly the prefix before their last two: nothing later leaks in
    train = split.train.sequences()
    for u, s in enumerate(seqs):
        assert list(train[u]) == list(s[:-2]), u


def test_leave_one_out_keeps_short_users_in_train():
    inter = _toy(["a", "a", "b", "b", "b"], [1, 2, 3, 4, 5])
    split = leave_one_out(inter)
    assert list(split.train.items) == [1, 2, 3]
    assert list(split.valid.items) == [4] and list(split.test.items) == [5]


def test_temporal_split_cuts_by_time():
    inter = _toy(["a", "b", "a", "b", "a"], [1, 2, 3, 4, 5], timestamp=np.array([5.0, 1, 2, 4, 3]))
    split = temporal(inter, test_frac=0.4)
    assert split.train.timestamp.max() < split.test.timestamp.min()
    assert len(split.test) == 2


def test_last_transitions():
    inter = _toy(["a", "a", "a", "b", "c", "c"], [1, 2, 3, 4, 5, 6])
    prev, last = last_transitions(inter)
    assert list(prev) == [2, 5] and list(last) == [3, 6]


def test_generic_files_round_trip(tmp_path):
    import pandas as pd

    items = pd.DataFrame({"item_id": ["x", "y", "z"], "title": ["a", "b", "c"],
                          "image_emb": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]})
    items.to_parquet(tmp_path / "items.parquet")
    (tmp_path / "inter.csv").write_text("user_id,item_id,timestamp\nu1,x,3\nu1,y,1\nu2,z,2\n")
    cat = read_catalog(tmp_path / "items.parquet")
    assert cat.item_ids == ["x", "y", "z"] and cat.text == {"title": ["a", "b", "c"]}
    assert cat.embeddings["image_emb"].shape == (3, 2)
    inter = read_interactions(tmp_path / "inter.csv", cat)
    assert [cat.item_ids[i] for i in inter.sequences()[0]] == ["y", "x"]  # sorted by timestamp


def test_generic_csv_and_jsonl_embeddings(tmp_path):
    (tmp_path / "items.csv").write_text('item_id,title,emb\n1,a,"[1, 2]"\n2,b,"[3, 4]"\n')
    (tmp_path / "items.jsonl").write_text('{"item_id": 1, "emb": [1, 2]}\n{"item_id": 2, "emb": [3, 4]}\n')
    for name in ("items.csv", "items.jsonl"):
        cat = read_catalog(tmp_path / name)
        assert cat.item_ids == ["1", "2"]
        np.testing.assert_array_equal(cat.embeddings["emb"], [[1, 2], [3, 4]])


def test_iso_timestamps_order_events_like_unix_times(tmp_path):
    cat = Catalog(["x", "y", "z"])
    (tmp_path / "dates.csv").write_text("user_id,item_id,timestamp\nu1,x,2021-01-22\nu1,y,2021-01-21\nu2,z,2021-02-01\n")
    (tmp_path / "times.csv").write_text("user_id,item_id,timestamp\nu1,x,2021-01-21T10:00:00Z\n"
                                        "u1,y,2021-01-21T09:59:59+00:00\nu2,z,2021-01-21T10:00:00Z\n")
    for name in ("dates.csv", "times.csv"):
        inter = read_interactions(tmp_path / name, cat)
        assert [cat.item_ids[i] for i in inter.sequences()[0]] == ["y", "x"], name
    inter = read_interactions(tmp_path / "times.csv", cat)
    assert sorted(inter.timestamp.tolist())[0] == 1611223199.0  # seconds since 1970, UTC


@pytest.mark.parametrize("value, expected", [
    ("-5", "expected a Unix time from 0"), ("1e308", "expected a Unix time from 0"), ("-1e308", "or an ISO-8601 date"),
    ("nan", "expected a Unix time"), ("inf", "expected a Unix time"),
])
def test_out_of_range_timestamps_are_refused(tmp_path, value, expected):
    (tmp_path / "i.csv").write_text(f"user_id,item_id,timestamp\nu1,x,1\nu1,y,{value}\n")
    with pytest.raises(SidkitError, match=f"i.csv: data row 2: field 'timestamp': .*{expected}"):
        read_interactions(tmp_path / "i.csv", Catalog(["x", "y"]))


def test_a_date_column_with_a_non_date_names_the_row(tmp_path):
    (tmp_path / "i.csv").write_text("user_id,item_id,timestamp\nu1,x,2021-01-21\nu1,y,yesterday\n")
    with pytest.raises(SidkitError, match="row 2: field 'timestamp': 'yesterday' is not an ISO-8601 date"):
        read_interactions(tmp_path / "i.csv", Catalog(["x", "y"]))


def test_tsv_items_and_interactions_with_labels(tmp_path):
    (tmp_path / "items.tsv").write_text("item_id\ttitle\tbrand\nx\tcordless drill, 18V\tAcme\ny\tsafety goggles\t\n")
    (tmp_path / "inter.tsv").write_text("user_id\titem_id\ttimestamp\tlabel\nu1\tx\t1\t1\nu1\ty\t2\t0\n")
    cat = read_catalog(tmp_path / "items.tsv")
    assert cat.text == {"title": ["cordless drill, 18V", "safety goggles"], "brand": ["Acme", ""]}
    inter = read_interactions(tmp_path / "inter.tsv", cat)
    assert inter.label.tolist() == [1.0, 0.0] and inter.items.tolist() == [0, 1]
    (tmp_path / "bad.tsv").write_text("user_id\titem_id\tlabel\nu1\tx\t1\nu1\ty\t2\n")
    with pytest.raises(SidkitError, match="bad.tsv: data row 2: field 'label': label must be 0 or 1"):
        read_interactions(tmp_path / "bad.tsv", cat)


CELLS = st.one_of(st.text(max_size=12), st.integers(-10**20, 10**20).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(["[1, 2]", "[", "[]", '"', ""]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=0, max_size=6),
       st.sampled_from(["item_id,title,emb", "user_id,item_id,timestamp,label", "item_id", "a,b"]))
def test_file_readers_fail_only_with_one_line(tmp_path_factory, rows, header):
    """Whatever a CSV holds, reading it gives a result or one SidkitError line naming the file: never
    another exception."""
    import csv

    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    with open(path, "w", newline="") as f:
        f.write(header + "\n")
        csv.writer(f).writerows(rows)
    for read in (read_catalog, lambda p: read_interactions(p, Catalog(["x", "1", "0"]))):
        try:
            read(path)
        except SidkitError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e), str(e)
