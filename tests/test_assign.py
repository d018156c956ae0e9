"""The SID lifecycle: append-only assignment, collision handling, atomic versions, no code from files.

The model is fitted on the first 4,000 scientific items (titles, real encoder); the other 344 play the
part of the day's new uploads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import N_FIT, fit_part
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.cli import main
from sidkit.data.types import Catalog
from sidkit.errors import SidkitError, SidkitWarning
from sidkit.methods import METHODS
from sidkit.params import params_of
from sidkit.sid_store import SIDStore, Snapshot, _extended
from sidkit.sids import SemanticIDs, with_disambiguation
from sidkit.sids.collisions import reassign, tuple_loads
from sidkit.sids.versions import version_numbers, version_path, write_version


def new_items_csv(prep, path: Path, rows) -> Path:
    cat = prep.dataset.catalog
    pd.DataFrame({"item_id": [cat.item_ids[r] for r in rows],
                  "title": [cat.text["title"][r] for r in rows]}).to_csv(path, index=False)
    return path


def embedding_csv(path: Path, ids: list[str], x: np.ndarray) -> Path:
    pd.DataFrame({"item_id": ids, "embedding": [json.dumps(v.tolist()) for v in x]}).to_csv(path, index=False)
    return path


def test_assign_appends_versions_and_never_changes_given_sids(model_dir, scientific_prepared, tmp_path, capsys,
                                                              cache_dir):
    prep = scientific_prepared
    v0 = SemanticIDs.read(model_dir)
    first = new_items_csv(prep, tmp_path / "day1.csv", range(N_FIT, N_FIT + 200))
    assert main(["assign", str(model_dir), "--items", str(first), "--cache-dir", str(cache_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["version"], report["new"], report["existing"]) == (1, 200, 0)
    # the second day re-sends 10 known items (5 fitted, 5 from day 1) beside the rest
    rows = list(range(N_FIT + 200, len(prep.embeddings))) + list(range(5)) + list(range(N_FIT, N_FIT + 5))
    second = new_items_csv(prep, tmp_path / "day2.csv", rows)
    assert main(["assign", str(model_dir), "--items", str(second), "--cache-dir", str(cache_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["version"], report["new"], report["existing"]) == (2, 144, 10)

    v1, v2 = SemanticIDs.read(model_dir, version=1), SemanticIDs.read(model_dir)
    assert v2.version == 2 and len(v2) == len(prep.embeddings)
    for old in (v0, v1):  # every SID given stays exactly as given
        assert v2.item_ids[:len(old)] == old.item_ids
        np.testing.assert_array_equal(v2.sid[:len(old)], old.sid)
    assert len({tuple(s) for s in v2.sid.tolist()}) == len(v2)
    # new items got what the frozen model gives the same text (the same embeddings the fit used)
    model = SIDStore(model_dir).tokenizer
    np.testing.assert_array_equal(v2.codes[N_FIT:], model.encode(prep.embeddings[N_FIT:]))
    assert version_numbers(model_dir) == [1, 2]


def test_new_items_without_an_optional_template_field(model_dir, scientific_prepared, tmp_path, capsys, cache_dir):
    """A model whose template has a bracketed brand takes uploads that carry only a title (was: refused)."""
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["content"]["template"] = "{title}[. Brand: {brand}]"
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    items = new_items_csv(scientific_prepared, tmp_path / "titles.csv", range(N_FIT, N_FIT + 20))
    with pytest.warns(SidkitWarning, match="optional field.* brand not in the items; treated as empty"):
        assert main(["assign", str(model_dir), "--items", str(items), "--cache-dir", str(cache_dir)]) == 0
    table = SemanticIDs.read(model_dir)  # an empty brand renders as the title alone, the text the fit encoded
    np.testing.assert_array_equal(table.codes[N_FIT:], SIDStore(model_dir).tokenizer.encode(
        scientific_prepared.embeddings[N_FIT:N_FIT + 20]))
    manifest["content"]["template"] = "{title} by {brand}"  # outside brackets it is still required
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    others = new_items_csv(scientific_prepared, tmp_path / "more.csv", range(N_FIT + 20, N_FIT + 30))
    code, err = run(["assign", str(model_dir), "--items", str(others), "--cache-dir", str(cache_dir)], capsys)
    assert code == 2 and "field 'brand' is not in the catalogue" in err


def test_resending_known_items_is_a_no_op(model_dir, scientific_prepared):
    store = SIDStore(model_dir)
    x = scientific_prepared.embeddings
    ids = scientific_prepared.dataset.catalog.item_ids
    before = store.lookup(ids[:3])[0]
    report = store.assign(Catalog(ids[:3], embeddings={"embedding": x[:3]}))
    assert report["new"] == 0 and report["version"] == 0 and report["items"] == before
    assert version_numbers(model_dir) == []


def test_reassign_moves_only_the_last_level_and_lowers_collisions(model_dir, scientific_prepared):
    store = SIDStore(model_dir)
    x = scientific_prepared.embeddings[N_FIT:]
    ids = scientific_prepared.dataset.catalog.item_ids[N_FIT:]
    report = store.assign(Catalog(ids, embeddings={"embedding": x}), {"mode": "reassign", "k": 16})
    encoded, candidates = store.tokenizer.candidates(x, 16)
    table = SemanticIDs.read(model_dir)
    got = table.codes[N_FIT:]
    np.testing.assert_array_equal(got[:, :-1], encoded[:, :-1])
    assert all(c in cand for c, cand in zip(got[:, -1], candidates))
    moved = (got[:, -1] != encoded[:, -1]).sum()
    assert moved == report["collisions"]["moved"] > 0
    assert report["quality_after"]["collision_rate"] < report["collisions"]["encoded_collision_rate"]
    # a moved item went to a tuple with room: no new item lands on a tuple a fitted item already fills
    old = tuple_loads(table.codes[:N_FIT])
    assert all(old[tuple(r)] == 0 for r in got[got[:, -1] != encoded[:, -1]].tolist())


def test_reassign_on_hand_made_codes():
    codes = np.zeros((3, 2), dtype=np.int64)
    cand = np.array([[0, 1, 2]] * 3)
    out, info = reassign(codes, cand, capacity=1)
    assert out.tolist() == [[0, 0], [0, 1], [0, 2]] and info["moved"] == 2 and info["over_capacity"] == 0
    out, _ = reassign(codes, cand, capacity=2)
    assert out.tolist() == [[0, 0], [0, 0], [0, 1]]
    # the least loaded candidate wins over a nearer one that is less empty
    out, _ = reassign(codes[:1], cand[:1], capacity=3, loads=Counter({(0, 0): 3, (0, 1): 2, (0, 2): 0}))
    assert out.tolist() == [[0, 2]]
    out, info = reassign(codes[:1], cand[:1, :2], capacity=1, loads=Counter({(0, 0): 1, (0, 1): 1}))
    assert out.tolist() == [[0, 0]] and info["over_capacity"] == 1  # no room: the SID's last level separates


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=40),
       st.integers(0, 40))
def test_appended_rows_get_the_disambiguation_of_the_whole_table(rows, cut):
    codes = np.array(rows, dtype=np.int64)
    cut = min(cut, len(codes))
    base = codes[:cut]
    snap = Snapshot.of(0, [f"i{k}" for k in range(cut)], base)
    grown = _extended(snap, 1, [f"i{k}" for k in range(cut, len(codes))], codes[cut:])
    np.testing.assert_array_equal(grown.sid, with_disambiguation(codes))
    # the older snapshot still answers as it did: appended rows are invisible to it
    assert snap.n == cut and snap.item_ids == [f"i{k}" for k in range(cut)]
    assert snap.answer(f"i{len(codes) - 1}") is None or cut == len(codes)
    assert grown.answer(f"i{len(codes) - 1}")["sid"] == with_disambiguation(codes)[-1].tolist()


def test_concurrent_assigns_give_each_item_one_sid(model_dir, scientific_prepared):
    """Two stores on one folder (as two processes would be) and several threads each: the lock file
    serialises them, every item gets one SID, no SID twice."""
    x = scientific_prepared.embeddings
    ids = scientific_prepared.dataset.catalog.item_ids
    stores = [SIDStore(model_dir), SIDStore(model_dir)]
    errors = []

    def work(k: int) -> None:
        rows = np.arange(N_FIT + 20 * (k % 3), N_FIT + 20 * (k % 3) + 60)  # overlapping batches
        try:
            stores[k % 2].assign(Catalog([ids[r] for r in rows], embeddings={"embedding": x[rows]}))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    table = SemanticIDs.read(model_dir)
    assert len(table) == N_FIT + 100 and len(set(table.item_ids)) == len(table)
    assert len({tuple(s) for s in table.sid.tolist()}) == len(table)
    for store in stores:  # both stores answer the same for every item
        store.refresh()
        assert store.lookup(table.item_ids)[0] == stores[0].lookup(table.item_ids)[0]


KILLED_CHILD = r"""
import sys, time
from pathlib import Path
import pyarrow.parquet as pq
import numpy as np
from sidkit.data.types import Catalog
from sidkit.sid_store import SIDStore

real = pq.write_table
def write_then_hang(table, where, **kw):
    real(table, where, **kw)          # the temp file is complete, the rename has not happened
    Path(sys.argv[2]).write_text("ready")
    time.sleep(600)
pq.write_table = write_then_hang
x = np.load(sys.argv[3])
SIDStore(sys.argv[1]).assign(Catalog([f"late{k}" for k in range(len(x))], embeddings={"embedding": x}))
"""


def test_a_killed_assign_leaves_the_previous_version(model_dir, scientific_prepared, tmp_path):
    store = SIDStore(model_dir)
    x = scientific_prepared.embeddings
    store.assign(Catalog(["day1"], embeddings={"embedding": x[N_FIT:N_FIT + 1]}))
    before = SemanticIDs.read(model_dir)
    np.save(tmp_path / "x.npy", x[N_FIT + 1:N_FIT + 50])
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(model_dir), str(ready), str(tmp_path / "x.npy")])
    try:
        for _ in range(600):
            if ready.exists() or child.poll() is not None:
                break
            threading.Event().wait(0.1)
        assert ready.exists(), "the child never reached the write"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert list((model_dir / "versions").glob(".v000002.parquet.*.tmp"))  # killed mid-write
    after = SemanticIDs.read(model_dir)
    assert after.version == 1 and after.item_ids == before.item_ids
    np.testing.assert_array_equal(after.sid, before.sid)
    # the next writer gets the lock (the dead child's lock died with it) and cleans up
    report = SIDStore(model_dir).assign(Catalog(["day2"], embeddings={"embedding": x[N_FIT + 1:N_FIT + 2]}))
    assert report["version"] == 2
    assert not list((model_dir / "versions").glob(".*.tmp"))


class Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["tensors.safetensors", "config.json"])
def test_a_crafted_model_folder_cannot_run_code(model_dir, scientific_prepared, tmp_path, where):
    import pickle  # only to build the attack; sidkit itself never imports pickle (next test)

    marker = tmp_path / "pwned"
    (model_dir / "model" / where).write_bytes(pickle.dumps(Payload(str(marker))))
    with pytest.raises(SidkitError, match=where):  # the folder is checked whole when it is opened
        SIDStore(model_dir)
    assert not marker.exists()


def test_no_module_can_unpickle():
    src = Path(__file__).resolve().parents[1] / "src" / "sidkit"
    for path in src.rglob("*.py"):
        text = path.read_text()
        for bad in ("import pickle", "torch.load(", "np.load(", "allow_pickle", "joblib", "cloudpickle"):
            assert bad not in text, f"{path}: {bad}"


def run(args, capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def test_bad_assign_inputs(model_dir, scientific_prepared, tmp_path, capsys):
    x = scientific_prepared.embeddings
    cases = {
        "not a fit folder": (["assign", str(tmp_path), "--items", "x.csv"], "expected a folder written by"),
        "missing items file": (["assign", str(model_dir), "--items", str(tmp_path / "none.csv")], "no such file"),
        "wrong dimension": (["assign", str(model_dir), "--items",
                             str(embedding_csv(tmp_path / "d.csv", ["a"], x[:1, :10]))], "10 dimensions; expected 384"),
    }
    (tmp_path / "idonly.csv").write_text("item_id\na\n")
    cases["no content"] = (["assign", str(model_dir), "--items", str(tmp_path / "idonly.csv")], "no text fields")
    (tmp_path / "wrongfield.csv").write_text("item_id,name\na,caliper\n")
    cases["text without the template's field"] = (["assign", str(model_dir), "--items", str(tmp_path / "wrongfield.csv")],
                                                   "field 'title'")
    (tmp_path / "dup.csv").write_text("item_id,title\na,x\na,y\n")
    cases["duplicate ids"] = (["assign", str(model_dir), "--items", str(tmp_path / "dup.csv")], "row 2: field 'item_id'")
    (tmp_path / "nan.csv").write_text('item_id,embedding\na,"[1, NaN]"\n')
    cases["NaN"] = (["assign", str(model_dir), "--items", str(tmp_path / "nan.csv")], "row 1: field 'embedding'")
    for name, (args, expected) in cases.items():
        code, err = run(args, capsys)
        assert code == 2, name
        assert err.count("\n") == 1 and expected in err, (name, err)
    assert version_numbers(model_dir) == []  # nothing was written by any of them


def test_bad_version_files_are_named(model_dir, capsys):
    write_version(model_dir, 1, ["a"], np.zeros((1, 3), dtype=np.int64), None, {})
    write_version(model_dir, 2, ["a"], np.zeros((1, 3), dtype=np.int64), None, {})
    code, err = run(["quality", str(model_dir)], capsys)
    assert code == 2 and "item 'a' appears twice" in err
    version_path(model_dir, 2).unlink()
    version_path(model_dir, 1).write_bytes(b"not parquet")
    code, err = run(["quality", str(model_dir)], capsys)
    assert code == 2 and "v000001.parquet" in err
    version_path(model_dir, 1).unlink()
    write_version(model_dir, 3, ["b"], np.zeros((1, 3), dtype=np.int64), None, {})
    code, err = run(["quality", str(model_dir)], capsys)
    assert code == 2 and "no gaps" in err


def test_every_method_can_assign(scientific_prepared, tmp_path):
    """Each method's saved model loads and codes new items exactly as the fitted tokenizer does."""
    prep = scientific_prepared
    x = prep.embeddings[N_FIT:N_FIT + 50]
    ids = prep.dataset.catalog.item_ids[N_FIT:N_FIT + 50]
    small = dict(levels=2, codebook_size=16)
    quick = dict(steps=20, batch_size=256, checkpoint_every=1000, epochs=1)  # whichever a method has
    methods = [m for m, cls in METHODS.items() if not cls.needs_users]  # das needs users: test_das
    assert {"rq-kmeans", "qarm", "rqvae", "quasid", "adasid"} <= set(methods)
    for method in methods:
        params = {k: v for k, v in quick.items() if k in params_of(METHODS[method])}
        result_dir = fit_part(prep, method, tmp_path / method, **small, **params)
        store = SIDStore(result_dir)
        for mode in ("disambiguate", "reassign", "reassign-optimal"):
            report = store.assign(Catalog([f"{mode}{i}" for i in ids], embeddings={"embedding": x}), {"mode": mode})
            assert report["new"] == 50, method
        table = SemanticIDs.read(result_dir)
        np.testing.assert_array_equal(table.codes[N_FIT:N_FIT + 50], store.tokenizer.encode(x), err_msg=method)
        if method == "qarm":  # QARM's VQ codes come along for new items too
            np.testing.assert_array_equal(table.vq_codes[N_FIT:N_FIT + 50], store.tokenizer.vq_encode(x))
