"""Trie-constrained beam search never emits an invalid SID and, with a wide beam, finds the exact top
items; Recall/NDCG on hand-made rankings with known values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.downstream.generative.beam_search import constrained_beam_search
from sidkit.downstream.generative.trie import SIDTrie
from sidkit.errors import SidkitError
from sidkit.evaluate.retrieval import retrieval_metrics
from sidkit.sids.disambiguate import with_disambiguation


def table_model(sizes: list[int], seed: int):
    """A fake model whose log-probabilities depend on the whole prefix (so greedy is not optimal)."""
    g = np.random.default_rng(seed)
    tables = [g.normal(size=(97, max(sizes) + 3)) * 2 for _ in sizes]

    def logp(prefix: tuple[int, ...], query: int) -> np.ndarray:
        row = hash((query, *prefix)) % 97
        x = tables[len(prefix)][row]
        return x - np.log(np.exp(x).sum())

    def step(tokens: torch.Tensor, n_queries: int, beam: int) -> torch.Tensor:
        rows = [logp(tuple(t.tolist()), r // beam) for r, t in enumerate(tokens)]
        return torch.tensor(np.array(rows), dtype=torch.float32)

    return logp, step


def sids_strategy():
    return st.tuples(st.integers(1, 60), st.integers(2, 4), st.integers(2, 6), st.integers(0, 2**16))


@settings(max_examples=30, deadline=None)
@given(sids_strategy(), st.integers(1, 12))
def test_beam_search_emits_only_real_items_once(spec, beam):
    n, levels, k, seed = spec
    codes = np.random.default_rng(seed).integers(0, k, size=(n, levels))
    sid = with_disambiguation(codes)
    trie = SIDTrie(sid)
    _, step = table_model(trie.sizes, seed)
    items, scores = constrained_beam_search(lambda t: step(t, 3, beam), trie, 3, beam)
    for q in range(3):
        alive = items[q][items[q] >= 0]
        assert len(set(alive.tolist())) == len(alive)                     # no item twice
        assert set(alive.tolist()) <= set(range(n))                       # every answer is a catalogue item
        assert len(alive) == min(beam, n) or np.isinf(scores[q][items[q] < 0]).all()
        assert (np.diff(scores[q][np.isfinite(scores[q])]) <= 1e-6).all()  # best first


@settings(max_examples=20, deadline=None)
@given(sids_strategy())
def test_wide_beam_finds_the_exact_top_items(spec):
    n, levels, k, seed = spec
    sid = with_disambiguation(np.random.default_rng(seed).integers(0, k, size=(n, levels)))
    trie = SIDTrie(sid)
    logp, step = table_model(trie.sizes, seed)
    beam = n  # as wide as the catalogue: nothing is pruned
    items, scores = constrained_beam_search(lambda t: step(t, 2, beam), trie, 2, beam)
    for q in range(2):
        exact = np.array([sum(logp(tuple(s[:d]), q)[s[d]] for d in range(len(s))) for s in sid])
        np.testing.assert_allclose(np.sort(scores[q])[::-1], np.sort(exact)[::-1], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(scores[q], exact[items[q]], rtol=1e-4, atol=1e-4)


def test_trie_refuses_shared_or_negative_sids():
    with pytest.raises(SidkitError, match="share a full SID"):
        SIDTrie(np.array([[0, 1], [0, 1]]))
    with pytest.raises(SidkitError, match="non-negative"):
        SIDTrie(np.array([[0, -1]]))


def test_recall_and_ndcg_on_hand_made_rankings():
    ranked = np.array([[3, 1, 2, 9, 8, 7, 6, 5, 4, 0],    # target 3 at rank 0
                       [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],    # target 6 at rank 6
                       [1, 2, 3, -1, -1, -1, -1, -1, -1, -1],  # target 4 missing (short list)
                       [5, 4, 3, 2, 1, 0, 9, 8, 7, 6]])   # target 1 at rank 4
    target = np.array([3, 6, 4, 1])
    m = retrieval_metrics(ranked, target)
    assert m["recall@5"] == pytest.approx(2 / 4) and m["recall@10"] == pytest.approx(3 / 4)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / np.log2(6)) / 4)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / np.log2(8) + 1 / np.log2(6)) / 4)
    with pytest.raises(SidkitError, match="expected"):
        retrieval_metrics(ranked[:2], target)


def test_split_has_no_leakage_on_real_beauty_sequences(shared):
    from sidkit.data import load_dataset
    from sidkit.downstream.generative.split import sequence_split

    inter = load_dataset("beauty", shared / "beauty").interactions
    split = sequence_split(inter, max_len=20)
    seqs = inter.sequences()
    assert len(split.test) == len(split.valid) == inter.n_users  # 5-core: every user has ≥ 3 items
    for ex, back in ((split.test, 1), (split.valid, 2)):
        for u, h, t in zip(ex.users[:2000], ex.history[:2000], ex.target[:2000]):
            s = seqs[u]
            assert t == s[-back]
            assert h[h >= 0].tolist() == s[:len(s) - back][-20:].tolist()  # input ends right before the target
    # a user's training inputs and targets come only from their sequence minus the two held-out items
    last_train = {u: len(s) - 2 for u, s in enumerate(seqs)}
    pos = {}
    for u, h, t in zip(split.train.users, split.train.history, split.train.target):
        pos[u] = pos.get(u, 0) + 1
        k = pos[u]  # the k-th training example of u predicts s[k]
        assert k < last_train[u] and t == seqs[u][k] and h[-1] == seqs[u][k - 1]
    assert sum(pos.values()) == sum(len(s) - 3 for s in seqs)


def ring_walks():
    """200 users walking a ring of 30 items from random starts: the next item is always current + 1."""
    from sidkit.data.types import Interactions
    from sidkit.downstream.generative.split import sequence_split

    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(200):
        start, n = rng.integers(0, 30), rng.integers(4, 9)
        users += [f"u{u}"] * n
        items += [(start + t) % 30 for t in range(n)]
    inter = Interactions.from_events(users, np.array(items), 30)
    return inter, sequence_split(inter, max_len=10)


def test_sasrec_learns_a_deterministic_successor_and_beats_popularity():
    from sidkit.downstream.generative.sasrec import SASRec
    from sidkit.downstream.generative.split import most_popular

    inter, split = ring_walks()
    model = SASRec(dim=32, max_len=10, epochs=30, eval_every=5, dropout=0.0, lr=5e-3, seed=0).fit(split, inter.sequences())
    ours = retrieval_metrics(model.recommend(split.test, 10), split.test.target)
    pop = retrieval_metrics(most_popular(split, len(split.test), 10), split.test.target)
    assert ours["recall@5"] > 0.9 and ours["recall@5"] > pop["recall@5"] + 0.5


@pytest.mark.parametrize("encoder_input", ["items", "tokens"])
def test_tiger_learns_the_successor_through_sids_and_only_answers_items(encoder_input):
    from sidkit.downstream.generative.tiger import Tiger

    inter, split = ring_walks()
    codes = np.random.default_rng(1).integers(0, 4, size=(30, 2))  # 16 tuples for 30 items: collisions
    sid = with_disambiguation(codes)
    model = Tiger("small", seed=0, d_model=32, heads=2, ff=64, epochs=30, eval_every=5, lr=3e-3, warmup_steps=20,
                  max_len=10, user_buckets=0, beam=10, encoder_input=encoder_input).fit(split, sid)
    ranked = model.recommend(split.test, 10)
    assert ((ranked >= 0) & (ranked < 30)).all() and all(len(set(r)) == 10 for r in ranked.tolist())
    assert retrieval_metrics(ranked, split.test.target)["recall@5"] > 0.9


def write_ring(tmp_path):
    """Ring walks as files: items with embeddings, interactions in walk order."""
    import json as _json

    inter, _ = ring_walks()
    x = np.random.default_rng(2).normal(size=(30, 8)).round(4)
    (tmp_path / "items.csv").write_text("item_id,emb\n" + "".join(
        f'i{k},"{_json.dumps(v.tolist())}"\n' for k, v in enumerate(x)))
    rows = ["user_id,item_id"] + [f"{inter.user_ids[u]},i{i}" for u, i in zip(inter.users, inter.items)]
    (tmp_path / "inter.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "items.csv", tmp_path / "inter.csv"


def test_eval_generative_cli_writes_metrics_beside_the_sids(tmp_path, capsys, monkeypatch):
    import json as _json

    from sidkit.cli import main
    from sidkit.downstream.generative import tiger

    # the small config shrunk so the test takes seconds; the code path is the CLI's
    monkeypatch.setitem(tiger.CONFIGS, "small", tiger.TigerConfig(d_model=32, heads=2, ff=64, epochs=4, eval_every=2,
                                                                  max_len=10, user_buckets=8, warmup_steps=10, beam=10))
    items, inter = write_ring(tmp_path)
    sids = tmp_path / "sids"
    assert main(["fit", "rq-kmeans", "--items", str(items), "--interactions", str(inter), "--out", str(sids),
                 "--levels", "2", "--codebook-size", "4"]) == 0
    assert main(["eval", "generative", str(sids), "--interactions", str(inter), "--seed", "0"]) == 0
    result = _json.loads((sids / "eval_generative.json").read_text())
    # most-popular beside TIGER is computed on the very split TIGER is tested on
    from sidkit.downstream.generative.split import most_popular
    _, split = ring_walks()
    pop = retrieval_metrics(most_popular(split, len(split.test), 10), split.test.target)
    assert result["popularity"] == pytest.approx(pop) and result["n_test_users"] == len(split.test) == 200
    assert set(result) >= {"recall@5", "recall@10", "ndcg@5", "ndcg@10", "history", "params"}
    capsys.readouterr()
    bad = [(["eval", "generative", str(sids), "--interactions", str(inter), "--config", "huge"], "config 'huge'"),
           (["eval", "generative", str(tmp_path / "nowhere"), "--interactions", str(inter)], "no such file"),
           (["eval", "generative", str(sids)], "--interactions FILE")]
    for args, expected in bad:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err


def test_bench_generative_resumes_and_reports_missing_methods(tmp_path, capsys, monkeypatch):
    import json as _json

    from sidkit.cli import main
    from sidkit.downstream.generative import tiger

    monkeypatch.setitem(tiger.CONFIGS, "small", tiger.TigerConfig(d_model=32, heads=2, ff=64, epochs=2, eval_every=2,
                                                                  max_len=10, user_buckets=8, warmup_steps=10, beam=10))
    items, inter = write_ring(tmp_path)
    out = tmp_path / "bench"
    args = ["bench", "generative", "--items", str(items), "--interactions", str(inter), "--methods",
            "rq-kmeans,rq-kmeans:balance=true,balance_iters=3,fancy", "--seeds", "1", "--out", str(out),
            "--levels", "2", "--codebook-size", "4", "--sasrec-epochs", "4"]
    assert main(args) == 0
    first = _json.loads((out / "generative.json").read_text())
    assert first["fancy"] == {"missing": "no method 'fancy' in this sidkit"}
    # a variant is its own row, fitted with its constructor values into its own folder
    variant = _json.loads((out / "sids" / "rq-kmeans_balance_true_balance_iters_3-seed0" / "manifest.json").read_text())
    assert variant["params"]["balance"] is True and variant["params"]["balance_iters"] == 3
    assert first["rq-kmeans:balance=true,balance_iters=3"]["recall@10"]["n"] == 1
    assert first["rq-kmeans"]["recall@10"]["n"] == 1 and first["sasrec"]["ndcg@10"]["n"] == 1
    assert "popularity" in first and "| rq-kmeans |" in (out / "generative.md").read_text()
    # a run killed during its last unit: that line never got written; the rerun does only that unit
    lines = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text("\n".join(lines[:-2]) + "\n")
    capsys.readouterr()
    assert main(args) == 0
    assert "4 units, 2 already done" in capsys.readouterr().err
    again = _json.loads((out / "generative.json").read_text())
    assert again["rq-kmeans"]["recall@10"] == first["rq-kmeans"]["recall@10"]  # same seeds, same figures
    assert len((out / "results.jsonl").read_text().splitlines()) == len(lines)
    # SASRec units are held to one recipe too; a process that trains no SASRec does not judge them
    before = (out / "results.jsonl").read_text()
    assert main(args[:-1] + ["6"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sasrec seed 0 was trained with SASRec epochs=4, this run asks epochs=6" in err
    assert (out / "results.jsonl").read_text() == before
    assert main(args[:-2] + ["--no-sasrec"]) == 0


@pytest.mark.parametrize("spec, says", [("rq-kmeans:bogus=1", "rq-kmeans has no parameter 'bogus'"),
                                         ("rq-kmeans:balance", "'balance' is not KEY=VALUE"),
                                         ("rq-kmeans:balance_iters=-2", "parameter balance_iters=-2: expected")])
def test_bench_generative_refuses_a_bad_variant_before_any_work(tmp_path, capsys, spec, says):
    from sidkit.cli import main

    items, inter = write_ring(tmp_path)
    out = tmp_path / "bench"
    assert main(["bench", "generative", "--items", str(items), "--interactions", str(inter), "--methods",
                 f"rqvae,{spec}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err
    assert not out.exists()


def test_bench_generative_without_sasrec_and_with_an_epoch_cap(tmp_path, capsys, monkeypatch):
    """The second of two processes sharing --out: no SASRec units, TIGER's epochs capped, its patience set."""
    import json as _json

    from sidkit.cli import main
    from sidkit.downstream.generative import tiger

    monkeypatch.setitem(tiger.CONFIGS, "small", tiger.TigerConfig(d_model=32, heads=2, ff=64, epochs=6, eval_every=2,
                                                                  max_len=10, user_buckets=8, warmup_steps=10, beam=10))
    items, inter = write_ring(tmp_path)
    out = tmp_path / "bench"
    (out / "sids").mkdir(parents=True)  # the other process got there first
    args = ["bench", "generative", "--items", str(items), "--interactions", str(inter), "--methods", "rq-kmeans",
            "--seeds", "1", "--levels", "2", "--codebook-size", "4", "--no-sasrec", "--tiger-epochs", "1",
            "--tiger-patience", "3"]
    assert main(args + ["--out", str(out)]) == 0
    assert "1 units, 0 already done" in capsys.readouterr().err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")
    assert main(args + ["--out", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds files that no bench wrote" in err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    (rec,) = [_json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert rec["method"] == "rq-kmeans" and rec["params"]["epochs"] == 1 and len(rec["history"]) == 1
    assert rec["params"]["patience"] == 3
    # a resume with another patience would pair units of two recipes in one table: refused before any work
    before = (out / "results.jsonl").read_text()
    assert main([a if a != "3" else "5" for a in args] + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rq-kmeans seed 0 was trained with TIGER patience=3, this run asks patience=5" in err
    assert (out / "results.jsonl").read_text() == before
    assert _json.loads((out / "generative.json").read_text())["sasrec"] == {"missing": "not run"}
    (row,) = [line for line in (out / "generative.md").read_text().splitlines() if line.startswith("| rq-kmeans |")]
    assert "| 1 |" in row  # how many seeds the mean is over
    # --table-only: the table over the rows asked for, from the lines already there; nothing runs
    before = (out / "results.jsonl").read_text()
    capsys.readouterr()
    assert main(["bench", "generative", "--methods", "rq-kmeans,qarm", "--seeds", "3", "--table-only",
                 "--out", str(out)]) == 0
    assert (out / "results.jsonl").read_text() == before and "units" not in capsys.readouterr().err
    table = _json.loads((out / "generative.json").read_text())
    assert table["qarm"] == {"missing": "not run"} and table["rq-kmeans"]["recall@10"]["n"] == 1
    assert main(["bench", "generative", "--table-only", "--out", str(tmp_path / "none")]) == 2
    assert "results.jsonl: no such file" in capsys.readouterr().err


def test_paired_calls_pair_over_shared_seeds_and_pick_the_best_among_the_most_measured():
    """'lucky' has the best ranks but one seed; 'a' and 'rqvae' have three. The best row is 'a' (a row
    at one seed is not everyone's reference), and lucky vs rqvae pairs over seed 0 only. The best
    baseline is balanced rq-kmeans (a variant of a baseline), above rqvae."""
    from sidkit.downstream.generative.bench import generative_table, paired_calls, summarise

    users = 300
    found = np.zeros(users, int)                            # every target first: per-user NDCG@10 = 1
    third = np.where(np.arange(users) % 3 == 0, 0, -1)    # a third found first: NDCG@10 = 1/3

    def runs(method, ranks_by_seed, ndcg_by_seed):
        return {(method, s): {"method": method, "seed": s, "recall@5": 0.0, "recall@10": 0.0, "ndcg@5": 0.0,
                              "ndcg@10": v, "test_ranks": r.tolist()}
                for s, (r, v) in enumerate(zip(ranks_by_seed, ndcg_by_seed))}
    done = {**runs("lucky", [found], [1.0]),
            **runs("a", [found, third, found], [1.0, 1 / 3, 1.0]),
            **runs("rqvae", [-found - 1] * 3, [0.0] * 3),        # nothing found: NDCG@10 = 0
            **runs("rq-kmeans:balance=true", [third] * 3, [1 / 3] * 3)}
    rows = ["lucky", "a", "rqvae", "rq-kmeans:balance=true"]
    summary = summarise(done, rows, [0, 1, 2])
    paired_calls(summary, done, rows, [0, 1, 2])
    assert summary["rqvae"]["paired"]["vs best"]["row"] == "a"
    lucky = summary["lucky"]["paired"]["vs rqvae"]
    assert lucky["seeds"] == [0] and lucky["ndcg@10"]["per_seed"] == [1.0]
    assert lucky["ndcg@10"]["mean"] == 1.0 and lucky["ndcg@10"]["verdict"] == "win"
    a = summary["a"]["paired"]["vs rqvae"]["ndcg@10"]
    assert np.allclose(a["per_seed"], [1.0, 1 / 3, 1.0]) and np.isclose(a["mean"], 7 / 9)
    assert summary["a"]["paired"]["vs best baseline"]["row"] == "rq-kmeans:balance=true"
    assert np.allclose(summary["a"]["paired"]["vs best baseline"]["ndcg@10"]["per_seed"], [2 / 3, 0.0, 2 / 3])
    assert summary["rqvae"]["paired"]["vs best baseline"]["ndcg@10"]["verdict"] == "loss"
    assert "vs best baseline" not in summary["rq-kmeans:balance=true"]["paired"]  # it is the best baseline
    line = [row for row in generative_table(summary).splitlines() if row.startswith("| lucky |")][0]
    assert "+1.0000 [+1.0000, +1.0000] win vs rqvae; +1.0000 |" in line


def test_paired_calls_read_per_user_ranks_over_the_seeds():
    """rows with ranks per test user: 'a' finds every target first, 'rqvae' finds half of them at rank 1,
    'same' is rqvae again. a vs rqvae is a win with a known gap; same vs rqvae is an exact tie."""
    from sidkit.downstream.generative.bench import generative_table, paired_calls, summarise

    users = 400
    half = np.where(np.arange(users) % 2 == 0, 1, -1)  # rank 1 (second place) or not found
    def runs(method, ranks):
        return {(method, s): {"method": method, "seed": s, "recall@5": 0.0, "recall@10": 0.0, "ndcg@5": 0.0,
                              "ndcg@10": 0.0, "test_ranks": ranks.tolist(), "collision_miss@10": 0.1 * s,
                              "best_epoch": 10 + s} for s in range(2)}
    done = {**runs("a", np.zeros(users, int)), **runs("rqvae", half), **runs("same", half)}
    summary = summarise(done, ["a", "rqvae", "same"], [0, 1])
    paired_calls(summary, done, ["a", "rqvae", "same"], [0, 1])
    gap = summary["a"]["paired"]["vs rqvae"]["ndcg@10"]
    expected = 1 - 0.5 / np.log2(3)  # every user 1.0 against half the users at 1/log2(3)
    assert gap["verdict"] == "win" and np.isclose(gap["mean"], expected) and gap["low"] < expected < gap["high"]
    assert summary["a"]["paired"]["vs rqvae"]["recall@10"]["mean"] == 0.5
    tie = summary["same"]["paired"]["vs rqvae"]["ndcg@10"]
    assert (tie["mean"], tie["low"], tie["high"], tie["verdict"]) == (0.0, 0.0, 0.0, "tie")
    assert "vs best" not in summary["a"]["paired"]  # a is the best row
    assert summary["rqvae"]["paired"]["vs best"]["row"] == "a"
    assert summary["a"]["best_epoch"] == [10, 11]
    line = [row for row in generative_table(summary).splitlines() if row.startswith("| same |")][0]
    assert "+0.0000 [+0.0000, +0.0000] tie" in line and "5.00%" in line


def test_collision_misses_count_the_right_tuple_with_the_wrong_item():
    from sidkit.evaluate.retrieval import group_misses

    group = np.array([0, 0, 1, 2, 2])          # items 0 and 1 share a code tuple, so do 3 and 4
    ranked = np.array([[1, 2], [0, 2], [4, -1], [2, 3]])
    target = np.array([0, 0, 3, 4])
    # user 0: target 0 missed, item 1 of its tuple ranked -> counts; user 1: target found -> not counted;
    # user 2: target 3 missed, 4 of its tuple ranked -> counts; user 3: 3 ranked but target 4 missed -> counts
    assert group_misses(ranked, target, group, k=2) == 0.75
    assert group_misses(ranked, target, group, k=1) == 0.5  # user 3's item 3 is at the second place
