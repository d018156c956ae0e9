"""The command line: happy paths and every bad input the foundation issue names.

Bad input must give one line naming the file and the row/field, a non-zero exit, and no output folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sidkit.cli import main


def write_items(path: Path, n: int = 40, dim: int = 8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rows = ["item_id,emb"] + [f'i{k},"{json.dumps(rng.normal(size=dim).round(4).tolist())}"' for k in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_interactions(path: Path, n_items: int = 40, n_users: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rows = ["user_id,item_id"]
    for u in range(n_users):
        rows += [f"u{u},i{i}" for i in rng.choice(n_items, size=5, replace=False)]
    path.write_text("\n".join(rows) + "\n")
    return path


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path):
    return write_items(tmp_path / "items.csv"), write_interactions(tmp_path / "inter.csv")


def fit_args(items, inter, out, *extra) -> list[str]:
    return ["fit", "rq-kmeans", "--items", str(items), "--interactions", str(inter), "--out", str(out),
            "--levels", "2", "--codebook-size", "4", *extra]


def test_fit_and_quality_from_generic_files(files, tmp_path, capsys):
    items, inter = files
    out = tmp_path / "out"
    code, stdout, _ = run_cli(fit_args(items, inter, out), capsys)
    assert code == 0
    written = json.loads((out / "quality.json").read_text())
    assert json.loads(stdout) == written
    code, stdout, _ = run_cli(["quality", str(out / "sids.parquet")], capsys)
    assert code == 0 and json.loads(stdout) == written
    # a second fit into the same folder replaces the previous output
    assert run_cli(fit_args(items, inter, out, "--seed", "1"), capsys)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1


def test_same_seed_same_sids_through_the_cli(files, tmp_path, capsys):
    import pyarrow.parquet as pq

    items, inter = files
    for name in ("a", "b"):
        assert run_cli(fit_args(items, inter, tmp_path / name, "--seed", "5"), capsys)[0] == 0
    a = pq.read_table(tmp_path / "a" / "sids.parquet").column("sid").to_pylist()
    b = pq.read_table(tmp_path / "b" / "sids.parquet").column("sid").to_pylist()
    assert a == b


def expect_refusal(args: list[str], out: Path, capsys, *needles: str) -> str:
    code, stdout, err = run_cli(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sidkit: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]  # no temp folder
    return lines[0]


def test_duplicate_item_ids(tmp_path, capsys):
    items = tmp_path / "items.csv"
    items.write_text('item_id,emb\na,"[1,2]"\nb,"[3,4]"\na,"[5,6]"\n')
    inter = tmp_path / "inter.csv"
    inter.write_text("user_id,item_id\nu,a\n")
    expect_refusal(fit_args(items, inter, tmp_path / "out"), tmp_path / "out", capsys,
                   "items.csv", "row 3", "item_id", "duplicate item id 'a'")


def test_interactions_with_unknown_item(files, tmp_path, capsys):
    items, _ = files
    inter = tmp_path / "bad_inter.csv"
    inter.write_text("user_id,item_id\nu1,i1\nu1,i999\n")
    expect_refusal(fit_args(items, inter, tmp_path / "out"), tmp_path / "out", capsys,
                   "bad_inter.csv", "row 2", "item_id", "unknown item 'i999'")


@pytest.mark.parametrize("which", ["items", "interactions"])
def test_empty_files(files, tmp_path, capsys, which):
    items, inter = files
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    args = fit_args(empty, inter, tmp_path / "out") if which == "items" else fit_args(items, empty, tmp_path / "out")
    expect_refusal(args, tmp_path / "out", capsys, "empty.csv", "empty file")


def test_header_only_file(files, tmp_path, capsys):
    items, _ = files
    inter = tmp_path / "inter.csv"
    inter.write_text("user_id,item_id\n")
    expect_refusal(fit_args(items, inter, tmp_path / "out"), tmp_path / "out", capsys, "inter.csv", "no rows")


def test_missing_column(files, tmp_path, capsys):
    items, _ = files
    inter = tmp_path / "inter.csv"
    inter.write_text("user,item_id\nu1,i1\n")
    expect_refusal(fit_args(items, inter, tmp_path / "out"), tmp_path / "out", capsys,
                   "inter.csv", "field 'user_id'", "missing column")


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_embeddings(files, tmp_path, capsys, bad):
    _, inter = files
    items = write_items(tmp_path / "items.csv")
    lines = items.read_text().splitlines()
    lines[5] = f'i4,"[{bad}, 0, 0, 0, 0, 0, 0, 0]"'
    items.write_text("\n".join(lines) + "\n")
    expect_refusal(fit_args(items, inter, tmp_path / "out"), tmp_path / "out", capsys,
                   "items.csv", "row 5", "field 'emb'", "NaN or inf")


def test_ragged_embeddings(files, tmp_path, capsys):
    _, inter = files
    items = write_items(tmp_path / "items.csv")
    lines = items.read_text().splitlines()
    lines[3] = 'i2,"[1, 2, 3]"'
    items.write_text("\n".join(lines) + "\n")
    expect_refusal(fit_args(items, inter, tmp_path / "out"), tmp_path / "out", capsys,
                   "items.csv", "row 3", "field 'emb'", "ragged embedding of length 3; expected 8")


def test_ragged_embeddings_in_parquet(tmp_path, capsys, files):
    import pandas as pd

    _, inter = files
    items = tmp_path / "items.parquet"
    pd.DataFrame({"item_id": ["i0", "i1"], "emb": [[1.0, 2.0], [1.0]]}).to_parquet(items)
    expect_refusal(fit_args(items, inter, tmp_path / "out"), tmp_path / "out", capsys,
                   "items.parquet", "row 2", "ragged")


def test_codebook_larger_than_item_count(files, tmp_path, capsys):
    items, inter = files
    args = fit_args(items, inter, tmp_path / "out")
    args[args.index("--codebook-size") + 1] = "64"
    expect_refusal(args, tmp_path / "out", capsys, "--codebook-size 64", "40 items")


@pytest.mark.parametrize("content", [b"PAR1\x00\x01garbage", b"\x89PNG not parquet at all"])
def test_unreadable_parquet(files, tmp_path, capsys, content):
    _, inter = files
    items = tmp_path / "items.parquet"
    items.write_bytes(content)
    expect_refusal(fit_args(items, inter, tmp_path / "out"), tmp_path / "out", capsys, "items.parquet",
                   "cannot be read as parquet")


def test_missing_file_and_folder_given_as_file(files, tmp_path, capsys):
    items, _ = files
    expect_refusal(fit_args(items, tmp_path / "nope.csv", tmp_path / "out"), tmp_path / "out", capsys,
                   "nope.csv", "no such file")
    (tmp_path / "dir.csv").mkdir()
    expect_refusal(fit_args(items, tmp_path / "dir.csv", tmp_path / "out"), tmp_path / "out", capsys, "dir.csv")


def test_unknown_file_type(files, tmp_path, capsys):
    items, inter = files
    other = tmp_path / "inter.xlsx"
    other.write_text("x")
    expect_refusal(fit_args(items, other, tmp_path / "out"), tmp_path / "out", capsys, "inter.xlsx",
                   "unknown file type")


def test_out_that_is_not_a_sidkit_output(files, tmp_path, capsys):
    items, inter = files
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, err = run_cli(fit_args(items, inter, out), capsys)
    assert code == 2 and "not a sidkit output" in err and str(out) in err
    assert (out / "notes.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1


def test_failure_keeps_the_previous_output(files, tmp_path, capsys):
    items, inter = files
    out = tmp_path / "out"
    assert run_cli(fit_args(items, inter, out), capsys)[0] == 0
    before = (out / "sids.parquet").read_bytes()
    args = fit_args(items, inter, out)
    args[args.index("--levels") + 1] = "1"
    args[args.index("--codebook-size") + 1] = "41"
    assert run_cli(args, capsys)[0] == 2
    assert (out / "sids.parquet").read_bytes() == before


def test_unknown_dataset_and_method(tmp_path, capsys):
    code, _, err = run_cli(["fit", "rq-kmeans", "--dataset", "netflix", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "unknown dataset 'netflix'" in err
    code, _, err = run_cli(["fit", "nope", "--dataset", "scientific", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "unknown method 'nope'" in err


def test_bad_sids_file_for_quality(tmp_path, capsys):
    bad = tmp_path / "sids.parquet"
    bad.write_text("not parquet")
    code, _, err = run_cli(["quality", str(bad)], capsys)
    assert code == 2 and "sids.parquet" in err and len(err.strip().splitlines()) == 1


def test_entry_point_exit_code(files, tmp_path):
    """The installed command, as a user runs it: exit status 2 and one line on stderr."""
    items, _ = files
    command = Path(sys.executable).parent / "sidkit"  # the console script pip installed beside this Python
    assert command.is_file(), f"{command}: the `sidkit` command is not installed"
    proc = subprocess.run([str(command), *fit_args(items, tmp_path / "x.csv", tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "x.csv" in proc.stderr


def test_demo_end_to_end(tmp_path, cache_dir, scientific_prepared):
    """`sidkit demo` on the embedded data (titles only, so the shared cache makes it quick)."""
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--template", "{title}", "--cache-dir", str(cache_dir)])
    assert code == 0
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and "Example buckets" in html
    for m in ("rq-kmeans", "qarm"):
        q = json.loads((out / m / "quality.json").read_text())
        assert q["n_items"] == 4344 and min(q["utilization"]) >= 0.9
