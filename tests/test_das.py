"""DAS: co-click partners on a hand-made table, the debias pieces, each alignment view's positives, and
the method end to end (items + users, saved and reloaded, seeded, ablation switches, bad requests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.cli import main
from sidkit.collab.co_clicks import CoClicks
from sidkit.collab.debiased_two_tower import DebiasedTwoTower, popularity_statistics
from sidkit.content.user_embeddings import history_embeddings
from sidkit.data.types import Interactions
from sidkit.objectives.debias import debias_terms
from sidkit.objectives.multiview_alignment import VIEWS, DualBatch, MultiViewAlignment, view_pairs
from sidkit.objectives.orthogonality import orthogonality


def table(events: list[tuple[str, int]], n_items: int) -> Interactions:
    users, items = zip(*events)
    return Interactions.from_events(list(users), np.array(items), n_items)


# --- co-click partners -------------------------------------------------------------------------------
def test_co_click_partners_on_a_hand_made_table():
    # a clicked 0, 1, 2 (and 0 again); b clicked 0; c clicked 3 only, and nobody else clicked 3
    inter = table([("a", 0), ("a", 1), ("a", 2), ("a", 0), ("b", 0), ("c", 3)], 4)
    a, b, c = (inter.user_ids.index(u) for u in "abc")
    co = CoClicks(inter)
    rng = np.random.default_rng(0)
    users, items = np.array([a, b, c, a] * 500), np.array([0, 0, 3, 1] * 500)
    other_user, other_item = co.sample(users, items, rng)
    other_user, other_item = other_user.reshape(500, 4), other_item.reshape(500, 4)
    assert (other_user[:, 0] == b).all() and (other_user[:, 1] == a).all()   # the one other clicker of item 0
    assert (other_user[:, 2] == -1).all() and (other_user[:, 3] == -1).all()  # items 3 and 1: one clicker each
    assert (other_item[:, 1] == -1).all() and (other_item[:, 2] == -1).all()  # b and c clicked one item
    # a's other items for click (a, 0) are 1 and 2, never 0 itself although a clicked it twice, equally often
    assert set(other_item[:, 0]) == {1, 2} and abs((other_item[:, 0] == 1).mean() - 0.5) < 0.08
    assert set(other_item[:, 3]) == {0, 2}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), min_size=2, max_size=60), st.integers(0, 2**16))
def test_co_click_partners_are_real_other_clicks(events, seed):
    inter = table([(f"u{u}", i) for u, i in events], 10)
    clicked = set(zip(inter.users.tolist(), inter.items.tolist()))
    other_user, other_item = CoClicks(inter).sample(inter.users, inter.items, np.random.default_rng(seed))
    for u, i, ou, oi in zip(inter.users, inter.items, other_user, other_item):
        clickers = {v for v, j in clicked if j == i} - {u}
        items = {j for v, j in clicked if v == u} - {i}
        assert (ou in clickers) if clickers else ou == -1
        assert (oi in items) if items else oi == -1


# --- debias ------------------------------------------------------------------------------------------
def test_orthogonality_is_zero_for_orthogonal_parts_and_one_for_parallel():
    a = torch.tensor([[1.0, 0, 0], [0, 2.0, 0]])
    b = torch.tensor([[0, 3.0, 0], [0, 0, 0.5]])
    assert orthogonality(a, b).item() == pytest.approx(0.0, abs=1e-7)
    assert orthogonality(a, 5 * a).item() == pytest.approx(1.0)
    assert orthogonality(a, -a).item() == pytest.approx(1.0)  # anti-parallel is not orthogonal


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**16), st.integers(2, 16))
def test_orthogonality_of_gram_schmidt_parts_is_zero(seed, dim):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(8, dim, generator=g), torch.randn(8, dim, generator=g)
    b = b - (b * a).sum(1, keepdim=True) / (a * a).sum(1, keepdim=True) * a
    assert orthogonality(a, b).item() < 1e-8


def test_popularity_statistics_by_hand():
    inter = table([("a", 0), ("a", 1), ("b", 0), ("c", 0)], 3)
    stats = popularity_statistics(inter)
    raw = np.log1p([3, 1, 0])
    pop = (raw - raw.mean()) / raw.std()
    np.testing.assert_allclose(stats.item_popularity, pop, rtol=1e-6)
    a = inter.user_ids.index("a")
    assert stats.user_conformity[a] == pytest.approx((pop[0] + pop[1]) / 2, rel=1e-6)


def test_debias_branches_exist_only_with_debias():
    users, items = torch.tensor([0, 1]), torch.tensor([2, 0])
    plain = DebiasedTwoTower(3, 4, dim=8, debias=False)(users, items)
    assert plain.conformity is None and debias_terms(plain, torch.zeros(2), torch.zeros(2)) == {}
    towers = DebiasedTwoTower(3, 4, dim=8)(users, items)
    terms = debias_terms(towers, torch.zeros(2), torch.zeros(2))
    assert set(terms) == {"popularity", "conformity", "orthogonality"}
    assert towers.c_u.shape == towers.c_i.shape == towers.interest.shape == (2, 8)


# --- the six views -----------------------------------------------------------------------------------
def dual_batch() -> DualBatch:
    """Each vector says what it is: (kind, index), so a view's positives can be read off."""
    users, items = torch.tensor([0, 1, 1]), torch.tensor([5, 6, 7])
    other_users, other_items = torch.tensor([2, -1, 0]), torch.tensor([-1, 7, 6])
    tag = lambda kind, idx: torch.stack([torch.full_like(idx, kind), idx], 1).float()  # noqa: E731
    return DualBatch(users, items, other_users, other_items, tag(1, users), tag(2, items), tag(1, other_users),
                     tag(2, other_items), tag(3, users), tag(4, items), n_users=3)


def test_each_view_pairs_what_the_spec_says():
    b = dual_batch()
    v = view_pairs(b)
    assert set(v) == set(VIEWS)
    expect = {  # (anchor kind, positive kind): 1 ẑ_u, 2 ẑ_i, 3 CF interest, 4 CF content
        "u2i_user": (1, 4), "u2i_item": (3, 2), "u2u": (1, 3), "i2i": (2, 4), "co_user": (1, 1), "co_item": (2, 2)}
    for name, (ka, kp) in expect.items():
        assert (v[name].anchor[:, 0] == ka).all() and (v[name].positive[:, 0] == kp).all(), name
    # same click on both sides of the u2i, u2u and i2i views
    assert torch.equal(v["u2i_user"].anchor[:, 1], b.users.float()) and torch.equal(v["u2i_user"].positive[:, 1], b.items.float())
    assert torch.equal(v["u2u"].positive[:, 1], b.users.float()) and torch.equal(v["i2i"].positive[:, 1], b.items.float())
    # co-occurrence: the partner, and only rows that have one
    assert v["co_user"].anchor[:, 1].tolist() == [0, 1] and v["co_user"].positive[:, 1].tolist() == [2, 0]
    assert v["co_item"].anchor[:, 1].tolist() == [6, 7] and v["co_item"].positive[:, 1].tolist() == [7, 6]
    # users and items live in one id space for the masks: items are offset by n_users
    assert v["u2i_user"].positive_ids.tolist() == [8, 9, 10] and v["co_item"].positive_ids.tolist() == [10, 9]


def test_alignment_rewards_aligned_views_and_switches_views_off():
    g = torch.Generator().manual_seed(0)
    n, d = 32, 16
    users, items = torch.arange(n), torch.arange(n)
    zu, zi = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    none = torch.full((n,), -1)
    aligned = DualBatch(users, items, none, none, zu, zi, zu, zi, interest=zu, content=zi, n_users=n)
    shuffled = DualBatch(users, items, none, none, zu, zi, zu, zi, interest=zu[torch.randperm(n, generator=g)],
                         content=zi[torch.randperm(n, generator=g)], n_users=n)
    full = MultiViewAlignment()
    a, s = full(aligned), full(shuffled)
    assert set(a) == {"align_u2i_user", "align_u2i_item", "align_u2u", "align_i2i"}  # no partners: no co views
    assert a["align_u2u"] < s["align_u2u"] and a["align_i2i"] < s["align_i2i"]
    assert set(MultiViewAlignment(views=("u2u",))(aligned)) == {"align_u2u"}
    with pytest.raises(ValueError, match="unknown view"):
        MultiViewAlignment(views=("u2x",))


# --- user content --------------------------------------------------------------------------------------
def test_history_embedding_weights_recent_items_more():
    inter = Interactions.from_events(["a", "a", "b"], np.array([0, 1, 1]), 2, timestamp=np.array([1.0, 2.0, 1.0]))
    x = np.eye(2, dtype=np.float32)
    h = history_embeddings(inter, x, half_life=1.0)
    a = inter.user_ids.index("a")
    assert h[a, 1] > h[a, 0] > 0 and np.linalg.norm(h[a]) == pytest.approx(1.0)
    assert h[a, 1] / h[a, 0] == pytest.approx(2.0)  # one item back weighs half


# --- end to end ----------------------------------------------------------------------------------------
def small_files(tmp_path: Path) -> tuple[Path, Path]:
    from test_cli import write_interactions, write_items

    return write_items(tmp_path / "items.csv"), write_interactions(tmp_path / "inter.csv")


def das_args(items: Path, inter: Path, out: Path, *extra: str) -> list[str]:
    return ["fit", "das", "--items", str(items), "--interactions", str(inter), "--out", str(out), "--levels", "2",
            "--codebook-size", "4", "--steps", "30", "--batch-size", "32", *extra]


def test_das_writes_item_and_user_sids_reproducibly(tmp_path, capsys):
    from sidkit.content import item_embeddings
    from sidkit.data import load_dataset
    from sidkit.methods import load_tokenizer
    from sidkit.sids import SemanticIDs

    items, inter = small_files(tmp_path)
    assert main(das_args(items, inter, tmp_path / "a")) == 0
    assert main(das_args(items, inter, tmp_path / "b")) == 0
    a, b = tmp_path / "a", tmp_path / "b"
    for name in ("sids.parquet", "user_sids.parquet"):
        ta, tb = SemanticIDs.read(a / name), SemanticIDs.read(b / name)
        assert ta.item_ids == tb.item_ids and np.array_equal(ta.codes, tb.codes)  # same seed, same SIDs
    users = SemanticIDs.read(a / "user_sids.parquet")
    assert users.id_column == "user_id" and len(users) == 30 and users.codes.shape == (30, 2)
    assert len({tuple(s) for s in users.sid}) == 30  # disambiguated like items
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["users"]["n_users"] == 30 and manifest["users"]["content"] == "history"
    assert json.loads((a / "user_quality.json").read_text())["n_items"] == 30
    log = (a / "training_log.csv").read_text().splitlines()[0].split(",")
    assert {"cf", "popularity", "conformity", "orthogonality", "reconstruction_user",
            *(f"align_{v}" for v in VIEWS)} <= set(log)
    # the saved model gives the written codes back, for items and users
    tok = load_tokenizer(a / "model")
    ds = load_dataset(None, items=str(items), interactions=str(inter))
    np.testing.assert_array_equal(tok.encode(item_embeddings(ds)), SemanticIDs.read(a).codes)
    assert tok.user_net_ is not None


def test_das_ablation_switches(tmp_path, capsys):
    items, inter = small_files(tmp_path)
    assert main(das_args(items, inter, tmp_path / "a", "--no-view", "co_user", "--no-view", "u2u", "--no-debias")) == 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["params"]["views"] == ["u2i_user", "u2i_item", "i2i", "co_item"]
    assert manifest["params"]["debias"] is False
    log = (tmp_path / "a" / "training_log.csv").read_text().splitlines()[0].split(",")
    assert "align_u2u" not in log and "align_co_user" not in log and "popularity" not in log and "align_i2i" in log


def test_das_bad_requests(tmp_path, capsys):
    items, inter = small_files(tmp_path)
    cases = [
        (das_args(items, inter, tmp_path / "a", "--no-view", "u2x"), "--no-view u2x: not a das view"),
        (["fit", "rqvae", "--items", str(items), "--interactions", str(inter), "--out", str(tmp_path / "b"),
          "--no-debias"], "expected das"),
        (das_args(items, inter, tmp_path / "c", "--param", "user_content=profile"), "has no user profiles"),
        (das_args(items, inter, tmp_path / "d", "--param", "user_codebook_size=64"), "user codebook size 64"),
        (["fit", "das", "--items", str(items), "--interactions", str(inter), "--out", str(tmp_path / "e"),
          "--codebook-size", "35"], "larger than the 30 users"),
    ]
    for args, expected in cases:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
        assert not Path(args[args.index("--out") + 1]).exists()


@pytest.fixture(scope="module")
def movielens(shared):
    from sidkit.data import load_dataset

    return load_dataset("ml-100k", shared / "ml-100k")


def test_das_on_movielens_uses_profiles_and_keeps_codebooks_alive(movielens, encoder):
    from sidkit.workflow import fit_method, prepare

    prep = prepare(movielens, encoder, need_pairs=False, need_users=True)
    assert prep.user_embeddings.shape == (943, 384)  # one profile text per user, through the real encoder
    # restarts at 40, 80, 120: none on the last step, where a moved code gets no training and whether it is
    # used then hangs on one batch's rounding (a bar of 0.9 failed on another CPU for that reason)
    result = fit_method(prep, "das", levels=3, codebook_size=32, steps=150, restart_every=40, seed=0,
                        fit_options={"progress": False})
    for quality in (result.quality, result.user_quality):
        # measured min 0.75-0.97; with no restarts level 1 collapses to 0.03-0.06, so 0.5 separates the two
        assert min(quality["utilization"]) >= 0.5, quality["utilization"]
    log = result.tokenizer.training_log_
    first, last = np.mean([r["cf"] for r in log[:10]]), np.mean([r["cf"] for r in log[-10:]])
    assert last < first  # the CF towers learn from the clicks while the tokenizers train


def test_eval_ranking_with_das_user_sids(tmp_path, capsys):
    from test_ranking import write_small

    items, inter = write_small(tmp_path)
    out = tmp_path / "rk"
    assert main(["eval", "ranking", "--items", str(items), "--interactions", str(inter), "--codes", "das",
                 "--variants", "rq,rq+user,vq", "--steps", "20", "--levels", "2", "--codebook-size", "4",
                 "--epochs", "1", "--out", str(out)]) == 0
    result = json.loads((out / "ranking.json").read_text())
    # variants are compared on the same test samples, and the user codes reach the model as features
    assert result["rq+user"]["ctr"]["n"] == result["rq"]["ctr"]["n"] > 0
    assert result["rq+user"]["ctr"]["n_users"] == result["rq"]["ctr"]["n_users"] > 0
    assert "needs vq" in result["vq"]["missing"]  # DAS has no VQ codes: reported, not dropped
    # a DAS fit folder as --sids: its user_sids.parquet is read beside sids.parquet
    das = tmp_path / "das"
    assert main(["fit", "das", "--items", str(items), "--interactions", str(inter), "--out", str(das), "--levels", "2",
                 "--codebook-size", "4", "--steps", "20", "--batch-size", "64"]) == 0
    assert main(["eval", "ranking", "--items", str(items), "--interactions", str(inter), "--sids", str(das),
                 "--variants", "user", "--epochs", "1", "--out", str(tmp_path / "rk2")]) == 0
    assert "ctr" in json.loads((tmp_path / "rk2" / "ranking.json").read_text())["user"]
    capsys.readouterr()
    for extra, expected in ((["--no-debias"], "expected --codes das"),
                            (["--codes", "das", "--no-view", "u2x"], "not a das view"),
                            (["--codes", "das", "--sids", str(das)], "expected no --codes das")):
        assert main(["eval", "ranking", "--items", str(items), "--interactions", str(inter), *extra,
                     "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
        assert not (tmp_path / "x").exists()


def test_das_resumes_to_the_uninterrupted_result(tmp_path, capsys):
    from sidkit.sids import SemanticIDs

    items, inter = small_files(tmp_path)
    assert main(das_args(items, inter, tmp_path / "whole")) == 0
    ckpt = ["--checkpoint-dir", str(tmp_path / "ckpt"), "--param", "checkpoint_every=5"]
    short = das_args(items, inter, tmp_path / "part", *ckpt)
    short[short.index("--steps") + 1] = "15"
    assert main(short) == 0
    capsys.readouterr()
    assert main(das_args(items, inter, tmp_path / "resumed", *ckpt, "--resume")) == 0
    assert "15/30" in capsys.readouterr().err  # it went on from step 15, not from the start
    for name in ("sids.parquet", "user_sids.parquet"):
        whole, resumed = SemanticIDs.read(tmp_path / "whole" / name), SemanticIDs.read(tmp_path / "resumed" / name)
        np.testing.assert_array_equal(whole.codes, resumed.codes)
