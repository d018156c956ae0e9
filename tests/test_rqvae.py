"""rqvae and quasid on the real scientific catalogue: codes in use, collisions, resume, DDP, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sidkit.cli import main
from sidkit.methods import RQVAE, QuaSID, load_tokenizer
from sidkit.sids.quality import sid_quality


@pytest.fixture(scope="module")
def x_pairs(scientific_prepared):
    return scientific_prepared.embeddings, scientific_prepared.pairs


@pytest.fixture(scope="module")
def rqvae(x_pairs):
    x, _ = x_pairs
    # restarts at 120, 240, 360, 480: none on the last step, where a moved code would get no training and
    # whether it is then used depends on the rounding of one batch
    return RQVAE(steps=500, restart_every=120, seed=0).fit(x, progress=False)


@pytest.fixture(scope="module")
def quasid(x_pairs):
    x, pairs = x_pairs
    return QuaSID(steps=300, seed=0).fit(x, pairs, progress=False)


def test_rqvae_uses_the_codebooks_at_every_level(rqvae):
    q = sid_quality(rqvae.labels_, rqvae.codebook_sizes)
    # measured 1.0 at every level; without restarts level 1 falls to 0.59 (0.28 without k-means init too),
    # so 0.9 tells a working restart from collapse with room for other CPUs' rounding
    assert min(q["utilization"]) >= 0.9, q["utilization"]
    assert q["collision_rate"] < 0.2  # residual k-means on the same items: 0.3 (BENCHMARKS.md)


def test_every_term_is_logged_per_step(rqvae, quasid):
    assert [e["step"] for e in quasid.training_log_] == list(range(1, 301))
    assert [e["step"] for e in rqvae.training_log_ if "n_restarted_codes" in e] == [120, 240, 360, 480]
    for key in ("reconstruction", "codebook", "commitment", "contrastive", "hamr_full", "hamr_partial",
                "n_hamr_full_pairs", "n_batch_collision_pairs"):
        assert key in quasid.training_log_[-1], key
    assert "hamr_full" not in rqvae.training_log_[-1]
    log = rqvae.training_log_
    assert np.mean([e["reconstruction"] for e in log[-20:]]) < np.mean([e["reconstruction"] for e in log[:20]])


def test_quasid_colliding_pairs_in_batches_fall(quasid):
    log = quasid.training_log_
    first = np.mean([e["n_hamr_full_pairs"] for e in log[:30]])
    last = np.mean([e["n_hamr_full_pairs"] for e in log[-30:]])
    assert last < first, (first, last)


def test_same_seed_same_sids_and_saved_model_encodes_the_same(rqvae, x_pairs, tmp_path):
    x, pairs = x_pairs
    small = dict(steps=60, batch_size=256, codebook_size=64, restart_every=20)
    a, b = (QuaSID(**small, seed=0).fit(x, pairs, progress=False) for _ in range(2))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert (QuaSID(**small, seed=1).fit(x, pairs, progress=False).labels_ != a.labels_).any()
    rqvae.save(tmp_path / "model")
    loaded = load_tokenizer(tmp_path / "model")
    np.testing.assert_array_equal(loaded.encode(x[:500]), rqvae.labels_[:500])
    assert loaded.get_params() == rqvae.get_params()


def test_resume_after_interruption_gives_the_uninterrupted_sids(x_pairs, tmp_path):
    x, pairs = x_pairs
    params = dict(steps=60, batch_size=256, codebook_size=32, checkpoint_every=25, restart_every=20, seed=3)
    whole = QuaSID(**params).fit(x, pairs, progress=False)
    ckpt = tmp_path / "ckpt"
    QuaSID(**{**params, "steps": 25}).fit(x, pairs, checkpoint_dir=ckpt, progress=False)  # "killed" at step 25
    resumed = QuaSID(**params).fit(x, pairs, checkpoint_dir=ckpt, resume=True, progress=False)
    np.testing.assert_array_equal(resumed.labels_, whole.labels_)
    assert [e["loss"] for e in resumed.training_log_] == [e["loss"] for e in whole.training_log_]
    with pytest.raises(Exception, match="other parameters"):
        QuaSID(**{**params, "lr": 0.01}).fit(x, pairs, checkpoint_dir=ckpt, resume=True, progress=False)


def test_hamr_plugs_into_plain_rqvae(x_pairs):
    x, _ = x_pairs
    tok = RQVAE(steps=20, codebook_size=16, objectives=["hamr"], objective_params={"hamr": {"radius": 2}}).fit(
        x, progress=False)
    assert "hamr_full" in tok.training_log_[-1]
    assert tok.build_objectives()[0].radius == 2


@pytest.fixture(scope="module")
def embedding_files(scientific_prepared, tmp_path_factory):
    """The scientific catalogue as precomputed embeddings + an interactions file: no encoder needed."""
    d = tmp_path_factory.mktemp("files")
    ds = scientific_prepared.dataset
    pd.DataFrame({"item_id": ds.catalog.item_ids, "emb": list(scientific_prepared.embeddings)}).to_parquet(
        d / "items.parquet")
    inter = ds.interactions
    frame = pd.DataFrame({"user_id": np.asarray(inter.user_ids)[inter.users],
                          "item_id": np.asarray(ds.catalog.item_ids)[inter.items]})
    if inter.timestamp is not None:
        frame["timestamp"] = inter.timestamp
    frame.to_csv(d / "inter.csv", index=False)  # events are in time order: file order is time order
    return d / "items.parquet", d / "inter.csv"


def _check_output(out: Path, x: np.ndarray) -> dict:
    sids = pd.read_parquet(out / "sids.parquet")
    codes = np.stack(sids["codes"].to_numpy())
    assert codes.shape == (len(x), 3) and codes.min() >= 0 and codes.max() < 32
    np.testing.assert_array_equal(load_tokenizer(out / "model").encode(x), codes)
    log = pd.read_csv(out / "training_log.csv")
    assert len(log) == 40 and np.isfinite(log["loss"]).all()
    assert (out / "report.html").stat().st_size > 10_000
    return json.loads((out / "quality.json").read_text())


def test_fit_rqvae_with_hamr_from_the_cli_and_under_ddp(embedding_files, scientific_prepared, tmp_path, capsys):
    items, inter = embedding_files
    args = ["fit", "rqvae", "--items", str(items), "--interactions", str(inter), "--codebook-size", "32",
            "--steps", "40", "--batch-size", "256", "--objective", "hamr", "--param", "hamr.margin_full=0.9", "--param", "restart_every=10"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    q1 = _check_output(tmp_path / "one", scientific_prepared.embeddings)
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["params"]["objective_params"] == {"hamr": {"margin_full": 0.9}}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "sidkit.cli", *args, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    q2 = _check_output(tmp_path / "two", scientific_prepared.embeddings)
    assert min(q2["utilization"]) > 0.5 and q1["n_items"] == q2["n_items"]
    # two processes train the same model on shares of each batch: the SIDs are as good as one process's
    # (40 steps; the collision rates differ by float summation order only, so a wide 10-point band)
    assert abs(q2["collision_rate"] - q1["collision_rate"]) < 0.10, (q1["collision_rate"], q2["collision_rate"])
    assert min(q2["utilization"]) > min(q1["utilization"]) - 0.15


@pytest.mark.parametrize("argv, message", [
    (["--objective", "nope"], "unknown objective 'nope'"),
    (["--param", "restart_every=abc"], "parameter restart_every=\"abc\": expected int"),
    (["--param", "restart_every=0"], "parameter restart_every=0: expected at least 1"),
    (["--param", "gradient=magic"], "parameter gradient=\"magic\": expected one of ste, rotation"),
    (["--gradient", "magic"], "argument --gradient: invalid choice: 'magic'"),
    (["--restart-every", "x"], "argument --restart-every: invalid int value: 'x'"),
    (["--objective", "hamr", "--param", "hamr.radius=\"x\""], "objective 'hamr': parameter radius=\"x\": expected int"),
    (["--objective", "hamr", "--param", "hamr.warp=1"], "objective 'hamr' has no parameter 'warp'"),
    (["--objective", "contrastive", "--param", "contrastive.space=q"], "objective 'contrastive': space 'q'"),
    (["--param", "warp=3"], "--param warp: not a parameter of rqvae"),
    (["--param", "steps"], "expected NAME=VALUE"),
    (["--no-hamr"], "--no-hamr: rqvae has no such option; expected quasid"),
    (["--no-cvpm"], "--no-cvpm: no objective rqvae uses here has cvpm; expected --objective adaptive_overlap or --objective hamr"),
    (["--resume"], "--resume needs --checkpoint-dir"),
])
def test_bad_training_flags(embedding_files, tmp_path, capsys, argv, message):
    items, inter = embedding_files
    code = main(["fit", "rqvae", "--items", str(items), "--interactions", str(inter), "--steps", "2",
                 "--out", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_resume_from_a_corrupt_checkpoint(embedding_files, tmp_path, capsys):
    items, inter = embedding_files
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "checkpoint.safetensors").write_bytes(b"not a checkpoint")
    code = main(["fit", "rqvae", "--items", str(items), "--interactions", str(inter), "--steps", "2",
                 "--codebook-size", "8", "--out", str(tmp_path / "out"), "--checkpoint-dir", str(tmp_path / "ckpt"),
                 "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "checkpoint.safetensors: not a sidkit checkpoint" in err, err
    assert not (tmp_path / "out").exists()


def test_select_collisions_keeps_the_step_with_the_fewest(x_pairs, rqvae):
    """The kept weights are those of the checked step with the lowest catalogue collision rate: the
    final codes collide exactly that much, never more than the last check's codes."""
    from sidkit.sids.quality import collision_rate

    x, _ = x_pairs
    tok = RQVAE(steps=500, restart_every=120, seed=0, select="collisions", select_every=100).fit(x, progress=False)
    steps = [s for s, _ in tok.selection_history_]
    rates = [r for _, r in tok.selection_history_]
    assert steps == [100, 200, 300, 400, 500]
    assert tok.selected_step_ == steps[int(np.argmin(rates))]
    assert collision_rate(tok.labels_) == min(rates) <= rates[-1]
    assert rates[-1] == collision_rate(rqvae.labels_)  # selection watches training; it does not change it


def test_collision_selection_checks_from_the_warm_up_and_restores_the_best_weights():
    """Unit-level: the callback checks every ``every`` steps from ``start`` and at the last step, keeps the
    weights seen at the lowest rate (the earlier on a tie) and puts them back."""
    import torch

    from sidkit.methods.collision_selection import CollisionSelection

    net = torch.nn.Linear(1, 1, bias=False)
    rates = {4: 0.5, 6: 0.2, 8: 0.2, 10: 0.4}  # step -> share of colliding rows the encoder will give

    def encode() -> np.ndarray:  # 10 rows of which round(10 * rate) share one tuple
        n = int(round(10 * rates[current[0]]))
        return np.array([[0]] * n + [[k + 1] for k in range(10 - n)])

    current = [0]
    selection = CollisionSelection(net, encode, every=2, steps=10, start=4)
    for step in range(10):
        current[0] = step + 1
        with torch.no_grad():
            net.weight.fill_(float(step + 1))  # the weights say which step they are from
        selection(step)
    assert [s for s, _ in selection.history] == [4, 6, 8, 10]  # step 2 is before the warm-up
    assert selection.best_step == 6 and selection.best_rate == 0.2
    selection.restore()
    assert net.weight.item() == 6.0 and not net.training
