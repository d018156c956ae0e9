"""What README promises and no other test checked: each test runs the documented command or option."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli import run_cli, write_interactions, write_items

from sidkit.cli import build_parser, main, method_params
from sidkit.sids import SemanticIDs


def test_fit_collisions_reassign_reports_before_and_after(tmp_path, capsys):
    items, inter = write_items(tmp_path / "items.csv", n=40), write_interactions(tmp_path / "inter.csv")
    out = tmp_path / "out"
    code, _, err = run_cli(["fit", "rq-kmeans", "--items", str(items), "--interactions", str(inter), "--out", str(out),
                            "--levels", "2", "--codebook-size", "8", "--collisions", "reassign", "--collision-k", "8"],
                           capsys)
    assert code == 0, err
    q = json.loads((out / "quality.json").read_text())
    handled = q["collisions"]
    assert handled["mode"] == "reassign" and handled["k"] == 8 and handled["capacity"] == 1
    # 40 items over 64 tuples: k-means codes collide, and there is room to move the colliding items apart
    assert q["collision_rate"] < handled["before"]["collision_rate"], (q["collision_rate"], handled["before"])
    assert SemanticIDs.read(out).sid.shape == (40, 3)  # two code levels and the disambiguation level


def test_sidkit_cache_environment_variable(tmp_path, monkeypatch):
    from sidkit.content import TextEncoder

    monkeypatch.setenv("SIDKIT_CACHE", str(tmp_path / "cache"))
    enc = TextEncoder(show_progress=False)
    enc.encode(["a cordless drill"])
    assert list((tmp_path / "cache" / "embeddings").rglob("*.safetensors"))
    again = TextEncoder(show_progress=False)
    again.encode(["a cordless drill"])
    assert again.n_encoded_ == 0


@pytest.mark.parametrize("method, flag, expected", [
    ("quasid", "--no-contrastive", {"contrastive": False}), ("quasid", "--no-hamr", {"hamr": False}),
    ("quasid", "--no-cvpm", {"cvpm": False}), ("adasid", "--no-sear", {"sear": False}),
    ("adasid", "--no-las", {"las": False}), ("adasid", "--no-par", {"par": False}),
    ("adasid", "--no-cvpm", {"cvpm": False}),
])
def test_ablation_switches_reach_the_constructor(method, flag, expected):
    from sidkit.methods import METHODS

    args = build_parser().parse_args(["fit", method, "--dataset", "scientific", "--out", "o", flag])
    params = method_params(args, METHODS[method])
    assert {k: params[k] for k in expected} == expected
    tok = METHODS[method](**params)
    assert all(getattr(tok, k) == v for k, v in expected.items())


def test_ablation_switch_on_the_wrong_method_is_one_line(tmp_path, capsys):
    code, _, err = run_cli(["fit", "rqvae", "--dataset", "scientific", "--out", str(tmp_path / "o"), "--no-sear"], capsys)
    assert code == 2 and err.count("\n") == 1 and "expected --objective adaptive_overlap, or adasid" in err


def test_ranking_ia_rep_and_id_free(tmp_path, capsys):
    from test_ranking import write_small

    items, inter = write_small(tmp_path)
    out = tmp_path / "rk"
    code, _, err = run_cli(["eval", "ranking", "--items", str(items), "--interactions", str(inter), "--variants",
                            "ia-rep,vq", "--id-free", "--epochs", "1", "--levels", "2", "--codebook-size", "4",
                            "--vq-k", "5", "--out", str(out)], capsys)
    assert code == 0, err
    result = json.loads((out / "ranking.json").read_text())
    assert set(result) == {"ia-rep", "vq"} and result["ia-rep"]["ctr"]["n"] == result["vq"]["ctr"]["n"] > 0
    # --id-free ranks cold-start items on content alone: they are scored, not skipped
    assert result["ia-rep"]["cold_start"]["ctr"]["n"] > 0


def test_tiger_paper_config_builds_and_trains_a_step():
    from test_generative_decoding import ring_walks

    from sidkit.downstream.generative.tiger import CONFIGS, Tiger

    _, split = ring_walks()
    sid = np.stack([np.arange(30) // 8, np.arange(30) % 8, np.zeros(30, dtype=int)], axis=1)
    model = Tiger("paper", seed=0, epochs=1, eval_every=1).fit(split, sid)
    assert model.config.encoder_input == CONFIGS["paper"].encoder_input == "tokens"
    assert model.config.d_model == CONFIGS["paper"].d_model
    ranked = model.recommend(split.test, 10)
    assert ((ranked >= 0) & (ranked < 30)).all()


def test_assign_on_a_das_folder(tmp_path, capsys):
    items, inter = write_items(tmp_path / "items.csv", n=60), write_interactions(tmp_path / "inter.csv", n_items=50)
    das = tmp_path / "das"
    assert main(["fit", "das", "--items", str(items), "--interactions", str(inter), "--out", str(das), "--levels", "2",
                 "--codebook-size", "4", "--steps", "20", "--batch-size", "32"]) == 0
    capsys.readouterr()
    x = np.array(pd.read_csv(items)["emb"].map(json.loads).tolist(), dtype=np.float32)
    new = tmp_path / "new.csv"
    pd.DataFrame({"item_id": ["n1", "n2"], "embedding": [json.dumps(v.tolist()) for v in x[:2]]}).to_csv(new, index=False)
    code, out, err = run_cli(["assign", str(das), "--items", str(new)], capsys)
    assert code == 0, err
    table = SemanticIDs.read(das)
    assert table.version == 1 and table.item_ids[-2:] == ["n1", "n2"]
    np.testing.assert_array_equal(table.codes[-2:], table.codes[:2])  # same content, same codes as i0, i1
    assert (das / "user_sids.parquet").is_file()


def test_two_processes_assign_into_one_folder_at_once(model_dir, scientific_prepared, tmp_path):
    from conftest import N_FIT
    from test_assign import embedding_csv

    x, ids = scientific_prepared.embeddings, scientific_prepared.dataset.catalog.item_ids
    files = [embedding_csv(tmp_path / f"p{k}.csv", ids[N_FIT + 150 * k:N_FIT + 150 * (k + 1)],
                           x[N_FIT + 150 * k:N_FIT + 150 * (k + 1)]) for k in range(2)]
    command = Path(sys.executable).parent / "sidkit"
    procs = [subprocess.Popen([str(command), "assign", str(model_dir), "--items", str(f)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for f in files]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1][-500:] for r in results]
    table = SemanticIDs.read(model_dir)
    assert table.version == 2 and len(table) == N_FIT + 300 and len(set(table.item_ids)) == len(table)
    assert len({tuple(s) for s in table.sid.tolist()}) == len(table)  # no SID given twice
    assert sorted(json.loads(r[0])["version"] for r in results) == [1, 2]
