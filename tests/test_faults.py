"""Faults a bad-input and fault probe found: each test failed before its fix (issue: reliability)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file

from sidkit.cli import main
from sidkit.errors import SidkitError, SidkitWarning
from sidkit.sid_store import SIDStore
from test_cli import fit_args, run_cli, write_interactions, write_items


def test_a_codebook_larger_than_the_config_is_refused(model_dir, capsys):
    tensors = load_file(str(model_dir / "model" / "tensors.safetensors"))
    books = tensors["codebooks"]
    tensors["codebooks"] = np.concatenate([books, books], axis=1)  # 512 rows in a 256-code model
    save_file(tensors, str(model_dir / "model" / "tensors.safetensors"))
    with pytest.raises(SidkitError, match="expected 3 levels of 256 codes"):
        SIDStore(model_dir)
    code, _, err = run_cli(["assign", str(model_dir), "--items", "x.csv"], capsys)
    assert code == 2 and err.count("\n") == 1 and "do not match its config" in err


def test_config_edits_are_checked_against_the_tensors_and_the_table(model_dir):
    cfg = json.loads((model_dir / "model" / "config.json").read_text())
    cfg["params"]["codebook_size"] = 128
    (model_dir / "model" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(SidkitError, match="expected 3 levels of 128 codes"):
        SIDStore(model_dir)
    cfg["params"]["codebook_size"], cfg["params"]["levels"] = 256, 2
    (model_dir / "model" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(SidkitError, match="expected 2 levels"):
        SIDStore(model_dir)


@pytest.mark.parametrize("value, expected", [(-1, "code -1 at level 2; expected 0 to 255"),
                                             (10**6, "code 1000000 at level 2")])
def test_codes_out_of_range_in_the_table_are_refused(model_dir, value, expected):
    df = pd.read_parquet(model_dir / "sids.parquet")
    codes = [list(c) for c in df["codes"]]
    codes[5][1] = value
    df["codes"] = codes
    df.to_parquet(model_dir / "sids.parquet")
    with pytest.raises(SidkitError, match=f"sids.parquet: data row 6: field 'codes': {expected}"):
        SIDStore(model_dir)


def test_a_manifest_text_model_that_is_not_there(model_dir, tmp_path):
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["content"]["text_model"] = str(tmp_path / "elsewhere")
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SidkitError, match="content.text_model: text model .*elsewhere.*not a folder"):
        SIDStore(model_dir)
    (tmp_path / "elsewhere").mkdir()  # a folder, but not a model: refused when it is loaded, in one line
    from sidkit.content import TextEncoder

    with pytest.raises(SidkitError, match="cannot be loaded from"):
        TextEncoder(str(tmp_path / "elsewhere"), use_cache=False, show_progress=False).encode(["x"])


def test_unwritable_out_is_refused_before_any_work(tmp_path, capsys):
    items, inter = write_items(tmp_path / "items.csv"), write_interactions(tmp_path / "inter.csv")
    (tmp_path / "a-file").write_text("x")
    code, _, err = run_cli(fit_args(items, inter, tmp_path / "a-file" / "out"), capsys)
    assert code == 2 and err.count("\n") == 1 and "cannot write there" in err


def test_no_user_with_two_items_fits_without_nan(tmp_path, capsys):
    items = write_items(tmp_path / "items.csv", n=20)
    (tmp_path / "inter.csv").write_text("user_id,item_id\n" + "".join(f"u{k},i{k}\n" for k in range(20)))
    code, _, err = run_cli(fit_args(items, tmp_path / "inter.csv", tmp_path / "out"), capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "quality.json").read_text())["collab_prefix_agreement"] == [None, None]


def test_one_item_one_code_one_dimension(tmp_path, capsys):
    (tmp_path / "items.csv").write_text('item_id,emb\na,"[0.5]"\n')
    (tmp_path / "inter.csv").write_text("user_id,item_id\nu,a\nu,a\n")
    code, _, err = run_cli(["fit", "rq-kmeans", "--items", str(tmp_path / "items.csv"), "--interactions",
                            str(tmp_path / "inter.csv"), "--out", str(tmp_path / "out"), "--levels", "1",
                            "--codebook-size", "1"], capsys)
    assert code == 0, err
    assert (tmp_path / "out" / "report.html").is_file()


def test_resume_with_other_shapes_is_one_line(tmp_path, capsys):
    inter = write_interactions(tmp_path / "inter.csv")
    ckpt = tmp_path / "ckpt"
    base = ["fit", "rqvae", "--interactions", str(inter), "--levels", "2", "--codebook-size", "4", "--steps", "4",
            "--batch-size", "16", "--checkpoint-dir", str(ckpt), "--param", "checkpoint_every=2"]
    assert main([*base, "--items", str(write_items(tmp_path / "a.csv", dim=8)), "--out", str(tmp_path / "o1")]) == 0
    capsys.readouterr()
    code, _, err = run_cli([*base, "--items", str(write_items(tmp_path / "b.csv", dim=6)), "--out",
                            str(tmp_path / "o2"), "--resume"], capsys)
    # the shapes are known only once the items are read and embedded: stage lines, then the one error line
    lines = err.strip().splitlines()
    assert code == 2 and lines[-1].startswith("sidkit: error:") and "ckpt" in lines[-1], err
    assert sum(line.startswith("sidkit: error") for line in lines) == 1


def test_a_corrupt_cache_shard_is_a_miss(tmp_path):
    from sidkit.content import TextEncoder

    first = TextEncoder(cache_dir=tmp_path, show_progress=False).encode(["digital caliper"])
    shard = next((tmp_path / "embeddings").rglob("*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:40])  # truncated, as by a full disk
    again = TextEncoder(cache_dir=tmp_path, show_progress=False)
    with pytest.warns(SidkitWarning, match="unreadable embedding cache shard"):
        second = again.encode(["digital caliper"])
    assert again.n_encoded_ == 1
    np.testing.assert_allclose(second, first, atol=1e-5)


def test_temp_folders_of_dead_writers_are_removed(tmp_path, capsys):
    items, inter = write_items(tmp_path / "items.csv"), write_interactions(tmp_path / "inter.csv")
    dead = tmp_path / ".out.999999999.abc.tmp"  # no such process: a writer killed with SIGKILL
    live = tmp_path / f".out.{os.getpid()}.def.tmp"  # a run in progress: left alone
    for d in (dead, live):
        d.mkdir()
        (d / "sids.parquet").write_text("half")
    assert run_cli(fit_args(items, inter, tmp_path / "out"), capsys)[0] == 0
    assert not dead.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == [live.name]


def test_fit_killed_leaves_nothing_the_next_fit_keeps(tmp_path):
    """kill -9 in the middle of a real fit: the next fit into the same --out cleans the leftover up."""
    import signal
    import subprocess
    import sys
    import time

    items, inter = write_items(tmp_path / "items.csv", n=400), write_interactions(tmp_path / "inter.csv", n_items=400)
    out = tmp_path / "out"
    slow = [sys.executable, "-m", "sidkit.cli", "fit", "rqvae", "--items", str(items), "--interactions", str(inter),
            "--out", str(out), "--levels", "2", "--codebook-size", "4", "--steps", "100000", "--batch-size", "32"]
    child = subprocess.Popen(slow, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if list(tmp_path.glob(".out.*.tmp")) or child.poll() is not None:
                break
            time.sleep(0.1)
        assert list(tmp_path.glob(".out.*.tmp")), "the child never started writing"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert list(tmp_path.glob(".out.*.tmp")) and not out.exists()
    assert main(fit_args(items, inter, out)) == 0
    assert not list(tmp_path.glob(".out.*")) and (out / "sids.parquet").is_file()
