"""Catalogue scale on Ray (issue 16): sharded input, fit on a sample, assign with --engine ray.

A local Ray with 2 CPUs and small synthetic shards (a seeded mixture of Gaussians). What users depend on:
the Ray path gives the in-process answer item for item, in every collision mode, for a k-means and a
trained model; a killed worker does not lose or double an item; a killed driver commits nothing; bad input
is one line naming the shard.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidkit.data import load_dataset
from sidkit.data.sample import sample_catalog
from sidkit.data.shards import read_shards
from sidkit.data.synthetic import write_gaussian_shards
from sidkit.errors import SidkitError
from sidkit.sid_store import SIDStore
from sidkit.sids.quality import sid_quality
from sidkit.sids.shards import read_sid_shards
from sidkit.sids.table import SemanticIDs
from sidkit.workflow import fit_to_dir, prepare

ray = pytest.importorskip("ray")

from sidkit.scale.assign import actor_pool, assign_on_ray  # noqa: E402
from sidkit.scale.sharded_quality import sharded_quality  # noqa: E402

N, DIM, SHARDS = 200_000, 16, 16
LEVELS, K = 3, 32
SAMPLE = 8_000


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scale") / "items"
    write_gaussian_shards(out, N, DIM, SHARDS, seed=5, clusters=64, spread=0.5, row_group_size=4_000)
    return out


def _fit(catalogue: Path, out: Path, method: str, **params) -> Path:
    ds = load_dataset(items=str(catalogue), sample=SAMPLE, seed=0)
    prep = prepare(ds, None, need_pairs=False)
    fit_to_dir(prep, method, out, levels=LEVELS, codebook_size=K, seed=0, **params)
    return out


@pytest.fixture(scope="module")
def models(catalogue, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"rq-kmeans": _fit(catalogue, root / "rq-kmeans", "rq-kmeans"),
            "rqvae": _fit(catalogue, root / "rqvae", "rqvae", steps=150, batch_size=512, hidden=(64,), dim=16)}


def _copy(model: Path, to: Path) -> Path:
    shutil.copytree(model, to)
    return to


@pytest.fixture(scope="module")
def reference(models, catalogue, tmp_path_factory):
    """The in-process table after assigning the whole catalogue, per (method, mode), computed once."""
    done: dict[tuple[str, str], SemanticIDs] = {}

    def get(method: str, mode: str) -> SemanticIDs:
        if (method, mode) not in done:
            model = _copy(models[method], tmp_path_factory.mktemp("local") / "model")
            SIDStore(model).assign(read_shards(catalogue), {"mode": mode, "k": 8})
            done[method, mode] = SemanticIDs.read(model)
        return done[method, mode]

    return get


@pytest.mark.parametrize("method", ["rq-kmeans", "rqvae"])
@pytest.mark.parametrize("mode", ["disambiguate", "reassign"])
def test_ray_assign_equals_in_process(local_ray, models, catalogue, reference, tmp_path, method, mode):
    expected = reference(method, mode)
    on_ray = _copy(models[method], tmp_path / "ray")
    report = assign_on_ray(on_ray, catalogue, collisions={"mode": mode, "k": 8}, progress=False)
    got = SemanticIDs.read(on_ray)
    assert got.item_ids == expected.item_ids  # same rows in the same table order
    np.testing.assert_array_equal(got.codes, expected.codes)  # re-assigned codes included
    np.testing.assert_array_equal(got.sid, expected.sid)      # disambiguation levels included
    assert report["new"] == N - SAMPLE and report["existing"] == SAMPLE
    ref = sid_quality(expected.codes, expected.codebook_sizes)
    assert report["quality_after"]["collision_rate"] == ref["collision_rate"]
    if mode == "reassign":
        assert report["collisions"]["moved"] > 0  # the case exercises moves, not only the trivial path
        # the streamed quality of the table is the in-process figure
        q = sharded_quality(on_ray)
        for key in ("n_items", "collision_rate", "max_bucket", "n_unique_sids", "utilization", "top1_load"):
            assert q[key] == ref[key], key
        assert q["sid_entropy"] == pytest.approx(ref["sid_entropy"], rel=1e-9)
    elif method == "rq-kmeans":  # sending the catalogue again answers it: nothing new, nothing changed
        again = assign_on_ray(on_ray, catalogue, progress=False)
        assert again["new"] == 0 and again["version"] == 1
        np.testing.assert_array_equal(SemanticIDs.read(on_ray).sid, got.sid)


def test_out_shards_answer_every_item_and_leave_the_model_alone(local_ray, models, catalogue, reference, tmp_path):
    model = _copy(models["rq-kmeans"], tmp_path / "model")
    before = sorted(p.name for p in model.rglob("*"))
    (tmp_path / "out" / ".staging-run-killed").mkdir(parents=True)  # a killed job's leftovers
    assign_on_ray(model, catalogue, out_shards=tmp_path / "out", progress=False)
    assert sorted(p.name for p in model.rglob("*") if p.name != ".assign.lock") == before
    out = read_sid_shards(tmp_path / "out")
    expected = reference("rq-kmeans", "disambiguate")
    assert out.item_ids == read_shards(catalogue).item_ids  # catalogue order, each item once
    row = {item: i for i, item in enumerate(expected.item_ids)}
    rows = np.array([row[i] for i in out.item_ids])
    np.testing.assert_array_equal(out.sid, expected.sid[rows])  # known items answered, new ones as appended
    assert [p.name.startswith("run-") for p in (tmp_path / "out").iterdir() if p.is_dir()] == [True]


def _encoding_workers() -> list[int]:
    """PIDs of the processes Ray runs the encoding actors in (their title names the actor class)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if b"EncodePieces" in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's worker processes through /proc")
def test_a_killed_worker_loses_and_doubles_nothing(local_ray, models, catalogue, reference, tmp_path):
    model = _copy(models["rq-kmeans"], tmp_path / "model")
    killed = []

    def kill_one():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            pids = _encoding_workers()
            if pids:
                time.sleep(1.0)  # mid-job: the actor has pieces in hand
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    t = threading.Thread(target=kill_one)
    t.start()
    report = assign_on_ray(model, catalogue, progress=False)
    t.join()
    assert killed, "no encoding actor was seen to kill"
    table = SemanticIDs.read(model)
    assert len(table.item_ids) == len(set(table.item_ids)) == N  # every item once
    assert report["new"] == N - SAMPLE
    np.testing.assert_array_equal(table.sid, reference("rq-kmeans", "disambiguate").sid)


def test_a_killed_driver_commits_nothing_and_the_rerun_completes(models, catalogue, tmp_path):
    model = _copy(models["rq-kmeans"], tmp_path / "model")
    cmd = [str(Path(sys.executable).parent / "sidkit"), "assign", str(model), "--items", str(catalogue), "--engine", "ray",
           "--num-cpus", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in proc.stderr:  # the job is under way once the pieces are encoded
        if "encoded in" in line:
            break
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started: a lost machine
    proc.wait()
    assert SemanticIDs.read(model).version == 0 and len(SemanticIDs.read(model).item_ids) == SAMPLE
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    table = SemanticIDs.read(model)
    assert table.version == 1 and len(table.item_ids) == N
    assert not [p for p in (model / "versions").iterdir() if p.name.startswith(".")]  # the dead job's parts


def _bad(tmp_path: Path, name: str, table: pa.Table, good: Path) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(sorted(good.glob("*.parquet"))[0], folder / "part-00000.parquet")
    pq.write_table(table, folder / "part-00001.parquet")
    return folder


def _vectors(rows: list[list[float]]) -> pa.Array:
    return pa.array(rows, pa.list_(pa.float32()))


@pytest.mark.parametrize("case, expected", [
    ("no_id", "part-00001.parquet: field 'item_id': missing column"),
    ("width", "part-00001.parquet: field 'embedding' has 8 dimensions; expected 16"),
    ("ragged", "part-00001.parquet: data row 3: field 'embedding': ragged embedding of length 15"),
    ("nan", "part-00001.parquet: data row 2: field 'embedding': NaN or inf"),
    ("duplicate", "duplicate item id 'item-00000-00000000' (catalogue rows 1 and 12501)"),
    ("unreadable", "part-00001.parquet: cannot be read as a Parquet shard"),
])
def test_bad_shards_are_one_line_naming_the_shard(local_ray, models, catalogue, tmp_path, case, expected):
    ok = [[0.0] * DIM] * 3
    tables = {
        "no_id": pa.table({"id": ["a", "b", "c"], "embedding": _vectors(ok)}),
        "width": pa.table({"item_id": ["a", "b"], "embedding": _vectors([[0.0] * 8] * 2)}),
        "ragged": pa.table({"item_id": ["a", "b", "c"], "embedding": _vectors([[0.0] * DIM] * 2 + [[0.0] * 15])}),
        "nan": pa.table({"item_id": ["a", "b", "c"], "embedding": _vectors([[0.0] * DIM, [float("nan")] * DIM, ok[0]])}),
        "duplicate": pa.table({"item_id": ["item-00000-00000000"], "embedding": _vectors(ok[:1])}),
    }
    if case == "unreadable":
        folder = tmp_path / case
        folder.mkdir()
        shutil.copy(sorted(catalogue.glob("*.parquet"))[0], folder / "part-00000.parquet")
        (folder / "part-00001.parquet").write_bytes(b"not parquet")
    else:
        folder = _bad(tmp_path, case, tables[case], catalogue)
    model = _copy(models["rq-kmeans"], tmp_path / "model")
    with pytest.raises(SidkitError) as e:
        assign_on_ray(model, folder, progress=False)
    assert expected in str(e.value) and "\n" not in str(e.value)
    assert SemanticIDs.read(model).version == 0  # nothing committed
    assert not (model / "versions").exists() or not list((model / "versions").iterdir())


def test_a_model_that_does_not_match_the_input_is_refused(local_ray, models, tmp_path):
    other = tmp_path / "wide"
    write_gaussian_shards(other, 500, DIM * 2, 1, seed=1)
    with pytest.raises(SidkitError, match="32 dimensions; expected 16"):
        assign_on_ray(_copy(models["rq-kmeans"], tmp_path / "model"), other, progress=False)


def test_sample_is_seeded_uniform_and_independent_of_sharding(catalogue, tmp_path):
    a = sample_catalog(catalogue, 2_000, seed=3)
    assert a.item_ids == sample_catalog(catalogue, 2_000, seed=3).item_ids
    assert a.item_ids != sample_catalog(catalogue, 2_000, seed=4).item_ids
    # the same items cut into other shards: the same sample (keys depend on the id and the seed only)
    whole = read_shards(catalogue)
    resharded = tmp_path / "resharded"
    resharded.mkdir()
    cut = np.linspace(0, N, 5).astype(int)
    for s in range(4):
        rows = slice(cut[s], cut[s + 1])
        emb = whole.embeddings["embedding"][rows]
        pq.write_table(pa.table({"item_id": whole.item_ids[rows], "embedding": pa.FixedSizeListArray.from_arrays(
            pa.array(emb.reshape(-1)), DIM)}), resharded / f"p{s}.parquet", row_group_size=7_000)
    b = sample_catalog(resharded, 2_000, seed=3)
    assert b.item_ids == a.item_ids
    np.testing.assert_array_equal(b.embeddings["embedding"], a.embeddings["embedding"])
    # in catalogue order, and spread over the shards as a uniform draw would be: each of the 16 shards
    # holds 1/16 of the items; 2,000 draws give 125 ± 11 per shard (binomial sd), so ±50 is 4.5 sd
    order = {item: i for i, item in enumerate(whole.item_ids)}
    rows = [order[i] for i in a.item_ids]
    assert rows == sorted(rows)
    per_shard = np.bincount(np.array(rows) // (N // SHARDS), minlength=SHARDS)
    assert np.all(np.abs(per_shard - 125) < 50), per_shard


@given(cpus=st.integers(1, 256), workers=st.one_of(st.none(), st.integers(1, 256)))
def test_the_encode_actors_always_leave_a_cpu_to_the_tasks_that_feed_them(cpus, workers):
    """Actors that reserve every CPU hang the dataset (ray-project/ray#44687; it hung this suite on 2
    busy cores): whatever the cluster and --workers, the pool reserves at most all CPUs but one."""
    pool, each = actor_pool(float(cpus), workers)
    assert pool == (workers or cpus)
    assert 0 <= each <= 1 and pool * each <= cpus - 1 + 1e-9
    if workers is None:  # and by default no more is held back than that one CPU
        assert pool * each == pytest.approx(cpus - 1)


def test_fit_on_a_sample_needs_no_interactions_and_keeps_the_sample_clicks(catalogue, tmp_path, capsys):
    import pandas as pd

    clicks = tmp_path / "clicks"
    clicks.mkdir()
    ids = read_shards(catalogue).item_ids
    rng = np.random.default_rng(0)
    for s in range(2):
        pick = rng.integers(0, N, 3_000)
        pd.DataFrame({"user_id": [f"u{s}-{i % 300}" for i in range(3_000)],
                      "item_id": [ids[i] for i in pick]}).to_parquet(clicks / f"c{s}.parquet")
    ds = load_dataset(items=str(catalogue), interactions=str(clicks), sample=20_000, seed=0)
    kept = set(ds.catalog.item_ids)
    assert len(ds.catalog) == 20_000
    assert 0 < len(ds.interactions) < 6_000  # only the events of sampled items
    assert all(ds.catalog.item_ids[i] in kept for i in ds.interactions.items)
    from sidkit.cli import main

    assert main(["fit", "qarm", "--items", str(catalogue), "--sample", "1000", "--out", str(tmp_path / "q")]) == 2
    assert "learns from clicks; expected --interactions" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()


def test_text_shards_are_encoded_in_the_actors(local_ray, scientific_titles, encoder, tmp_path):
    """Shards with text columns only: each actor loads the text model and embeds its pieces with the
    model's template. Ray runs first and caches the vectors; the in-process run reads the same vectors
    from that cache, so the two must agree item for item (sentence-transformers pads each batch to its
    longest text, so vectors computed in other batches may differ in the last bits)."""
    from sidkit.data.types import Dataset

    cat = scientific_titles.catalog.subset(np.arange(240))
    folder = tmp_path / "text"
    folder.mkdir()
    for s in range(3):
        rows = slice(80 * s, 80 * (s + 1))
        pq.write_table(pa.table({"item_id": cat.item_ids[rows], "title": cat.text["title"][rows]}),
                       folder / f"part-{s}.parquet", row_group_size=40)
    first = read_shards(folder).subset(np.arange(120))
    ds = Dataset("text", first, None, "{title}")
    model = tmp_path / "model"
    fit_to_dir(prepare(ds, encoder, need_pairs=False), "rq-kmeans", model, levels=2, codebook_size=8, seed=0)
    cache = tmp_path / "cache"
    on_ray = _copy(model, tmp_path / "ray")
    report = assign_on_ray(on_ray, folder, cache_dir=str(cache), progress=False)
    assert report["new"] == 120 and report["existing"] == 120
    local = _copy(model, tmp_path / "local")
    SIDStore(local, cache_dir=cache).assign(read_shards(folder))
    a, b = SemanticIDs.read(on_ray), SemanticIDs.read(local)
    assert a.item_ids == b.item_ids
    np.testing.assert_array_equal(a.sid, b.sid)
