"""QARM ranking: metrics against hand-computed values, cross features on a hand-made history, the
samples' split (no test interaction in training, no cold item anywhere in training), and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sidkit.cli import main
from sidkit.data import load_dataset
from sidkit.data.types import Interactions
from sidkit.downstream.ranking.model import prefix_matches
from sidkit.downstream.ranking.samples import build_samples, histories
from sidkit.errors import SidkitError
from sidkit.evaluate.auc import ranking_metrics


def test_auc_uauc_gauc_by_hand():
    users = np.array(list("aaaabbccc"))
    labels = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0])
    scores = np.array([.9, .8, .3, .1, .7, .4, .6, .5, .1])
    m = ranking_metrics(labels, scores, users)
    # positives .9 .3 .7 .4 .5 against negatives .8 .1 .6 .1: 4 + 2 + 3 + 2 + 2 = 13 of 20 pairs
    assert m["auc"] == pytest.approx(13 / 20)
    # a: .9 beats .8 and .1, .3 beats .1 -> 3/4; b has positives only (skipped); c: .5 beats .1 only -> 1/2
    assert m["uauc"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert m["gauc"] == pytest.approx((3 / 4 * 4 + 1 / 2 * 3) / 7)
    assert (m["n"], m["n_users"]) == (9, 2)
    one_class = ranking_metrics(np.ones(3), np.array([.1, .2, .3]), np.array(list("abc")))
    assert np.isnan(one_class["auc"]) and np.isnan(one_class["uauc"]) and one_class["n_users"] == 0


def test_ties_count_half():
    m = ranking_metrics(np.array([1, 0]), np.array([.5, .5]), np.array(["u", "u"]))
    assert m["auc"] == m["uauc"] == m["gauc"] == 0.5


def test_prefix_matches_on_a_hand_made_history():
    target = torch.tensor([[1, 2, 3]])
    history = torch.tensor([[[1, 2, 3], [1, 2, 0], [1, 0, 3], [0, 2, 3], [1, 2, 3]]])
    valid = torch.tensor([[True, True, True, True, False]])  # the last one is padding
    match = prefix_matches(target, history, valid)
    assert match.sum(1).tolist() == [[3, 2, 1]]  # share level 1 / levels 1-2 / all three
    assert match[0, 2].tolist() == [True, False, False]  # [1, 0, 3] matches level 3's code but not the prefix


@pytest.fixture(scope="module")
def movielens(shared):
    return load_dataset("ml-100k", shared / "ml-100k")


@pytest.fixture(scope="module")
def samples(movielens):
    return build_samples(movielens.interactions, neg_ratio=4, seed=0)


def test_no_test_interaction_and_no_cold_item_in_training(samples, movielens):
    s = samples
    assert not (s.train & s.test).any()
    assert s.time[s.train].max() < s.time[s.test].min()  # a temporal cut
    assert s.test[s.labels["ctr"] == 1].mean() == pytest.approx(0.2, abs=0.01)
    cold = np.zeros(s.n_items, bool)
    cold[s.cold_items] = True
    assert len(s.cold_items) == round(0.1 * s.n_items) and not cold[s.items[s.train]].any()
    # what codes may be fitted on: training-period clicks of warm items only
    tc = s.train_clicks
    assert tc.timestamp.max() < s.time[s.test].min() and not cold[tc.items].any()
    assert len(tc) == int((s.train & (s.labels["ctr"] == 1)).sum())
    # negatives are items the user never rated, four per rating
    rated = set(zip(movielens.interactions.users.tolist(), movielens.interactions.items.tolist()))
    neg = s.labels["ctr"] == 0
    assert neg.sum() == 4 * len(movielens.interactions)
    assert not any((u, i) in rated for u, i in zip(s.users[neg].tolist(), s.items[neg].tolist()))
    # cvr is defined on clicks only; ctcvr = click and rating >= 4
    assert (s.masks["cvr"] == (s.labels["ctr"] == 1)).all()
    assert (s.labels["ctcvr"] == s.labels["ctr"] * s.labels["cvr"]).all()


def test_histories_hold_only_earlier_clicks_of_warm_items(samples, movielens):
    s, inter = samples, movielens.interactions
    h = histories(s, 30)
    cold = np.zeros(s.n_items, bool)
    cold[s.cold_items] = True
    assert not cold[h[h >= 0]].any()
    rng = np.random.default_rng(0)
    for row in rng.choice(len(s.users), 300, replace=False):
        u, t = s.users[row], s.time[row]
        mine = (inter.users == u) & (inter.timestamp < t) & ~cold[inter.items]
        expected = inter.items[mine][-30:]  # rows are in time order within a user
        got = h[row][h[row] >= 0]
        assert sorted(got.tolist()) == sorted(expected.tolist())


def test_sequence_data_without_time_tests_each_users_last_item():
    inter = Interactions.from_events(["u1"] * 4 + ["u2"] * 3 + ["u3"], np.array([0, 1, 2, 3, 4, 5, 6, 7]), 30)
    s = build_samples(inter, neg_ratio=2, cold_frac=0.0, seed=1)
    assert s.tasks == ["ctr"]
    pos_test = s.items[s.test & (s.labels["ctr"] == 1)]
    assert sorted(pos_test.tolist()) == [3, 6]  # u3 has one event: it stays in training
    h = histories(s, 5)
    row = np.flatnonzero((s.items == 3) & (s.labels["ctr"] == 1))[0]
    assert sorted(h[row][h[row] >= 0].tolist()) == [0, 1, 2]


def write_small(tmp_path: Path, n_items: int = 60, n_users: int = 80, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(6, 8))
    group = rng.integers(0, 6, n_items)
    x = centers[group] + 0.3 * rng.normal(size=(n_items, 8))
    items = ["item_id,emb"] + [f'i{k},"{json.dumps(v.round(4).tolist())}"' for k, v in enumerate(x)]
    (tmp_path / "items.csv").write_text("\n".join(items) + "\n")
    rows = ["user_id,item_id,timestamp,rating"]
    for u in range(n_users):
        taste = rng.integers(0, 6)
        liked = rng.choice(np.flatnonzero(group == taste), size=min(8, (group == taste).sum()), replace=False)
        for t, i in enumerate(liked):
            rows.append(f"u{u},i{i},{1000 * u + 7 * t + rng.integers(0, 5000)},{rng.integers(1, 6)}")
    (tmp_path / "inter.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "items.csv", tmp_path / "inter.csv"


def test_eval_ranking_cli(tmp_path, capsys):
    items, inter = write_small(tmp_path)
    out = tmp_path / "rk"
    args = ["eval", "ranking", "--items", str(items), "--interactions", str(inter), "--variants", "baseline,vq+rq",
            "--epochs", "1", "--levels", "2", "--codebook-size", "4", "--vq-k", "5", "--seeds", "2"]
    assert main(args + ["--out", str(out)]) == 0
    result = json.loads((out / "ranking.json").read_text())
    assert set(result) == {"baseline", "vq+rq"}
    for variant in result.values():
        assert set(variant) >= {"ctr", "cvr", "ctcvr", "groups", "cold_start", "per_seed"}
        assert variant["ctr"]["n"] == result["baseline"]["ctr"]["n"] > 0  # every variant on the same test samples
        assert len(variant["groups"]) == 6 and len(variant["per_seed"]) == 2
    assert "| vq+rq |" in capsys.readouterr().out and (out / "ranking.md").is_file()
    # the same seed gives the same figures
    assert main(args + ["--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "ranking.json").read_text())
    assert again["vq+rq"]["ctr"] == result["vq+rq"]["ctr"]


def test_eval_ranking_bad_requests(tmp_path, capsys):
    items, inter = write_small(tmp_path)
    base = ["eval", "ranking", "--items", str(items), "--interactions", str(inter), "--epochs", "1"]
    cases = [(["--variants", "baseline,fancy", "--out", str(tmp_path / "a")], "unknown variant 'fancy'"),
             (["--variants", "baseline,rq", "--id-free", "--out", str(tmp_path / "b")], "--id-free"),
             (["--variants", "", "--out", str(tmp_path / "c")], "--variants is empty")]
    for extra, expected in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err
        assert not Path(extra[-1]).exists()


def test_sid_folder_without_vq_codes_is_reported_missing(tmp_path, capsys):
    items, inter = write_small(tmp_path)
    sids = tmp_path / "sids"
    assert main(["fit", "rq-kmeans", "--items", str(items), "--interactions", str(inter), "--out", str(sids),
                 "--levels", "2", "--codebook-size", "4"]) == 0
    out = tmp_path / "rk"
    assert main(["eval", "ranking", "--items", str(items), "--interactions", str(inter), "--variants", "rq,vq",
                 "--sids", str(sids), "--out", str(out), "--epochs", "1"]) == 0
    result = json.loads((out / "ranking.json").read_text())
    assert "ctr" in result["rq"] and "needs vq" in result["vq"]["missing"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_histories_match_brute_force_with_many_cold_items(seed):
    rng = np.random.default_rng(seed)
    n = 300
    users = rng.integers(0, 12, n).astype(str)
    inter = Interactions.from_events(users, rng.integers(0, 40, n), 40, timestamp=rng.integers(0, 50, n).astype(float),
                                     rating=rng.integers(1, 6, n).astype(float))
    s = build_samples(inter, neg_ratio=1, cold_frac=0.5, seed=seed)
    h = histories(s, 6)
    cold = np.zeros(40, bool)
    cold[s.cold_items] = True
    for row in range(len(s.users)):
        mine = (inter.users == s.users[row]) & (inter.timestamp < s.time[row]) & ~cold[inter.items]
        assert sorted(h[row][h[row] >= 0].tolist()) == sorted(inter.items[mine][-6:].tolist())


def test_a_user_who_saw_every_item_is_refused():
    inter = Interactions.from_events(["u1"] * 3 + ["u2"], np.array([0, 1, 2, 0]), 3, timestamp=np.arange(4.0))
    with pytest.raises(SidkitError, match="'u1' interacted with every item"):
        build_samples(inter, cold_frac=0.0)


def test_settings_share_one_code_fit_and_match_separate_runs(tmp_path):
    """Several rankers over one code fit per seed give what separate evaluations give: the codes are the
    same fit, so the settings' differences are paired."""
    from sidkit.downstream.ranking.run import evaluate_ranking

    items, inter = write_small(tmp_path)
    ds = load_dataset(items=items, interactions=inter)
    common = dict(seeds=[0], epochs=1, levels=2, codebook_size=4, vq_k=5)
    shared = evaluate_ranking(ds, None, ["vq+rq"], settings={"ids": {}, "free": {"item_ids": False}}, **common)
    alone = evaluate_ranking(ds, None, ["vq+rq"], item_ids=False, **common)
    assert set(shared) == {"ids/vq+rq", "free/vq+rq"}
    assert shared["free/vq+rq"]["ctr"] == alone["vq+rq"]["ctr"]
    assert shared["ids/vq+rq"]["ctr"] != shared["free/vq+rq"]["ctr"]
    with pytest.raises(SidkitError, match="expected item_ids, sid_features"):
        evaluate_ranking(ds, None, ["vq+rq"], settings={"x": {"epochs": 3}}, **common)
