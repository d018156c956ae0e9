"""Usable at real size: cached pairs, stage timings, weak-content warnings, smooth curves, assign output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sidkit.collab.item_pairs import ItemPairs
from sidkit.collab.mine import mine_or_load, mine_pairs
from sidkit.collab.pair_cache import PairCache, pair_key
from sidkit.content.duplicates import duplicate_inputs, duplicate_warning
from sidkit.data import leave_one_out
from sidkit.data.types import Interactions
from sidkit.errors import SidkitWarning
from sidkit.report.plots import running_mean
from test_cli import run_cli, write_interactions, write_items


@pytest.fixture(scope="module")
def train(scientific_titles):
    return leave_one_out(scientific_titles.interactions).train


def test_cached_pairs_are_the_mined_pairs(train, tmp_path):
    first, hit = mine_or_load(train, ("u2i", "swing"), 0, tmp_path)
    assert not hit
    again, hit = mine_or_load(train, ("u2i", "swing"), 0, tmp_path)
    assert hit
    for a in ("trigger", "target", "source"):
        np.testing.assert_array_equal(getattr(again, a), getattr(first, a))
    fresh = mine_pairs(train, ("u2i", "swing"), 0)
    np.testing.assert_array_equal(fresh.trigger, first.trigger)


def test_the_cache_key_follows_what_the_pairs_depend_on(train):
    key = pair_key(train, ("u2i", "swing"), 0)
    assert pair_key(train, ("u2i", "swing"), 0) == key
    items = train.items.copy()
    items[17] = (items[17] + 1) % train.n_items  # one click on another item
    changed = Interactions(train.users, items, train.user_ids, train.n_items)
    assert pair_key(changed, ("u2i", "swing"), 0) != key
    order = np.arange(len(train.users))[::-1]  # same clicks, another order (u2i triggers depend on order)
    reordered = Interactions(train.users[order], train.items[order], train.user_ids, train.n_items)
    assert pair_key(reordered, ("u2i", "swing"), 0) != key
    assert pair_key(train, ("swing",), 0) != key and pair_key(train, ("u2i", "swing"), 1) != key


def test_changed_interactions_are_mined_again(tmp_path):
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 40, 400), rng.integers(0, 30, 400)
    a = Interactions.from_events([f"u{u}" for u in users], items, 30)
    _, hit = mine_or_load(a, ("swing",), 0, tmp_path)
    assert not hit and mine_or_load(a, ("swing",), 0, tmp_path)[1]
    items[0] = (items[0] + 1) % 30
    b = Interactions.from_events([f"u{u}" for u in users], items, 30)
    assert not mine_or_load(b, ("swing",), 0, tmp_path)[1]


def test_a_damaged_cache_entry_is_mined_again(tmp_path):
    pairs = ItemPairs.concat([ItemPairs.of([1, 2], [3, 4], "swing"), ItemPairs.of([5], [6], "u2i")])
    cache = PairCache(tmp_path)
    cache.save("k", pairs)
    back = cache.load("k")
    assert back.counts() == pairs.counts() and back.trigger.tolist() == [1, 2, 5]
    (tmp_path / "pairs" / "k.safetensors").write_bytes(b"\x00" * 10)
    with pytest.warns(SidkitWarning, match="unreadable pair cache"):
        assert cache.load("k") is None


def test_fit_records_stage_seconds_and_cached_pairs(tmp_path, capsys):
    items, inter = write_items(tmp_path / "items.csv"), write_interactions(tmp_path / "inter.csv")
    args = ["fit", "qarm", "--items", str(items), "--interactions", str(inter), "--levels", "2", "--codebook-size", "4",
            "--cache-dir", str(tmp_path / "cache"), "--param", "epochs=1"]
    for k, cached in ((1, False), (2, True)):
        code, _, err = run_cli([*args, "--out", str(tmp_path / f"o{k}")], capsys)
        assert code == 0, err
        manifest = json.loads((tmp_path / f"o{k}" / "manifest.json").read_text())
        assert manifest["pairs_cached"] is cached and set(manifest["seconds"]) >= {"embed", "pairs", "fit"}
        assert "[pairs]" in err and "[fit] qarm" in err and ("(from the cache)" in err) is cached
    import pandas as pd
    np.testing.assert_array_equal(np.stack(pd.read_parquet(tmp_path / "o1" / "sids.parquet")["sid"]),
                                  np.stack(pd.read_parquet(tmp_path / "o2" / "sids.parquet")["sid"]))


def test_identical_and_near_identical_inputs_are_counted():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 16)).astype(np.float32)
    x = np.concatenate([base, base[:10], base[10:20] + 1e-4])  # 10 exact twins, 10 near twins
    stats = duplicate_inputs(x)
    assert stats["identical_share"] == pytest.approx(20 / 70)  # each twin pair: both members count
    assert stats["near_identical_share"] == pytest.approx(40 / 70)
    assert "28.6% of items have exactly the same input" in duplicate_warning(stats)
    assert duplicate_warning(duplicate_inputs(base)) is None and duplicate_inputs(base)["identical_share"] == 0
    sampled = duplicate_inputs(x, sample=30)
    assert sampled["n_checked"] == 30 and sampled["identical_share"] == pytest.approx(20 / 70)


def test_weak_content_warns_at_fit(tmp_path, capsys):
    vec = json.dumps([0.1, 0.2, 0.3])
    (tmp_path / "items.csv").write_text("item_id,emb\n" + "".join(f'i{k},"{vec}"\n' for k in range(30)))
    inter = write_interactions(tmp_path / "inter.csv", n_items=30)
    with pytest.warns(SidkitWarning, match="100.0% of items have exactly the same input"):
        code, _, err = run_cli(["fit", "rq-kmeans", "--items", str(tmp_path / "items.csv"), "--interactions",
                                str(inter), "--out", str(tmp_path / "o"), "--levels", "1", "--codebook-size", "2"],
                               capsys)
    assert code == 0, err
    q = json.loads((tmp_path / "o" / "quality.json").read_text())
    assert q["input_duplicates"]["identical_share"] == 1.0


def test_empty_text_warns_and_strict_refuses(tmp_path, capsys):
    (tmp_path / "items.csv").write_text("item_id,title\n" + "".join(
        f"i{k},{'' if k % 10 == 0 else f'tool number {k}'}\n" for k in range(40)))
    inter = write_interactions(tmp_path / "inter.csv")
    base = ["fit", "rq-kmeans", "--items", str(tmp_path / "items.csv"), "--interactions", str(inter), "--levels", "1",
            "--codebook-size", "2", "--template", "{title}"]
    code, _, err = run_cli([*base, "--strict", "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and "4 of 40 items have empty text" in err and "item 'i0'" in err
    assert not (tmp_path / "s").exists()


def test_running_mean_has_no_dip_at_the_ends():
    v = np.full(100, 3.0)
    np.testing.assert_allclose(running_mean(v, 25), 3.0)  # was ~1.5 at the first and last steps
    ramp = np.arange(10.0)
    np.testing.assert_allclose(running_mean(ramp, 3)[[0, -1]], [0.5, 8.5])
    assert len(running_mean(np.ones(5), 25)) == 5
    with_gap = np.array([1.0, np.nan, 3.0])
    np.testing.assert_allclose(running_mean(with_gap, 3), [1.0, 2.0, 3.0])


def test_assign_writes_every_sid_when_asked(model_dir, scientific_prepared, tmp_path, capsys):
    from conftest import N_FIT
    from test_assign import embedding_csv

    x, ids = scientific_prepared.embeddings, scientific_prepared.dataset.catalog.item_ids
    new = embedding_csv(tmp_path / "new.csv", ids[N_FIT:N_FIT + 5] + ids[:1], np.concatenate([x[N_FIT:N_FIT + 5], x[:1]]))
    code, _, err = run_cli(["assign", str(model_dir), "--items", str(new), "--sids-out", str(tmp_path / "s.csv")],
                           capsys)
    assert code == 0 and "every item's SID is in" in err
    import pandas as pd

    out = pd.read_csv(tmp_path / "s.csv", dtype=str)
    from sidkit.sids import SemanticIDs

    table = SemanticIDs.read(model_dir)
    assert out["item_id"].tolist() == ids[N_FIT:N_FIT + 5] + ids[:1]
    assert out["sid"].iloc[-1] == " ".join(map(str, table.sid[0]))
    code, _, err = run_cli(["assign", str(model_dir), "--items", str(new)], capsys)
    assert code == 0 and "0 new items" in err
