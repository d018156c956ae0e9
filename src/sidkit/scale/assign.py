"""``sidkit assign --engine ray``: SIDs for a sharded catalogue on Ray, the in-process answer exactly.

The job, as Ray Data stages (the driver only plans and commits; it never holds items or codes):

1. pieces (row groups of the input shards) → an actor pool, each actor holding the frozen tokenizer,
   reads its pieces and encodes them (``EncodePieces``);
2. input and table rows grouped by a hash of the id (``known_items``): an id twice in the input is an
   error, and an item the table already holds keeps its SID (re-sending it only answers it);
3. the new rows and the table's rows grouped by their first L−1 codes (``global_collisions``): collision
   handling and disambiguation levels, plus the sums the quality figures need;
4. the new rows written as Parquet parts into a staging folder; renaming it in is the commit.

Two outputs: a new version of the model folder (``versions/v00000N/``, under the same lock as the
in-process assign), or ``--out-shards DIR`` (the model folder is left alone): every input item's SID,
new or known, as parts under ``DIR/run-*/`` named by ``DIR/manifest.json``, whose rename commits.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
import uuid
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sidkit.atomic import write_json
from sidkit.collab.cf_input import cf_for_model
from sidkit.content.item_embeddings import GIVEN, embed_for_model
from sidkit.data.shards import list_shards, plan_pieces, read_piece, shard_schema
from sidkit.errors import SidkitError
from sidkit.methods.registry import load_tokenizer
from sidkit.scale.encode_actor import EncodePieces
from sidkit.scale.engine import ray_session, require_ray
from sidkit.scale.existing_table import read_table_rows, table_pieces
from sidkit.scale.global_collisions import combine_quality, partial_quality, settle_group, with_group
from sidkit.scale.known_items import split_known, with_id_group
from sidkit.sid_store import LOCK, file_lock
from sidkit.sids.collisions import ROW_MOVES, SHOWN, resolve_settings
from sidkit.sids.versions import META_FILE, VERSIONS, remove_stale_temps, version_meta, version_numbers

ROWS_PER_PARTITION = 250_000  # hash-shuffle partitions of the group-bys: small enough for a 2-core laptop
ROWS_PER_FILE = 1_000_000     # output parts: few files, not one per shuffle block
ROWS_PER_GROUP = 5_000        # rows per group of prefixes the collision step hands to one call


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def _model(model_dir: Path) -> tuple[dict, list[int], int]:
    """The model folder's manifest, codebook sizes and VQ width (0: none), checked against its model."""
    if not (model_dir / "sids.parquet").is_file() or not (model_dir / "model").is_dir():
        raise SidkitError(f"{model_dir}: expected a folder written by `sidkit fit` (with sids.parquet and model/)")
    try:
        manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SidkitError(f"{model_dir / 'manifest.json'}: missing or not JSON; expected the fit's manifest") from None
    tok = load_tokenizer(model_dir / "model")
    sizes = [int(k) for k in manifest.get("codebook_sizes") or tok.codebook_sizes]
    if list(tok.codebook_sizes) != sizes:
        raise SidkitError(f"{model_dir / 'model' / 'config.json'}: codebook sizes {list(tok.codebook_sizes)}; "
                          f"expected {sizes} as in manifest.json")
    schema = pq.read_schema(model_dir / "sids.parquet")
    vq = 0
    if "vq_codes" in schema.names:
        first = pq.ParquetFile(model_dir / "sids.parquet").read_row_group(0, columns=["vq_codes"])
        vq = len(first.column("vq_codes")[0].as_py())
    return manifest, sizes, vq


def _check_input(model_dir: Path, manifest: dict, columns: dict, first_piece) -> None:
    """The first rows through the model's own input path: a missing column or a wrong width is one line
    now, naming the shard, not a failed task after an hour."""
    head = read_piece(first_piece, columns)
    head = head.subset(np.arange(min(4, len(head))))
    if "text" in (manifest.get("content") or {}).get("modalities", {}) and GIVEN not in head.embeddings:
        return  # text is encoded in the actors, not in the driver
    embed_for_model(head, manifest.get("content"), lambda: None, cf_for_model(model_dir, manifest.get("content")))


def _mark_new(batch: pa.Table) -> pa.Table:
    return batch.append_column("existing", pa.array(np.zeros(len(batch), dtype=bool)))


def _rows(batch: dict[str, np.ndarray], *, existing: bool, levels: int, vq: int) -> pa.Table:
    """Settled rows packed as a SID table's columns (item_id, row, codes, sid[, vq_codes]): the new rows,
    or (``existing``) the table rows the input re-sent, under their input row."""
    is_old = np.asarray(batch["existing"], dtype=bool)
    keep = (is_old & (batch["input_row"] >= 0)) if existing else ~is_old
    codes = np.stack([batch[f"c{j}"][keep] for j in range(levels)], axis=1).astype(np.int64)
    sid = np.concatenate([codes, batch["level"][keep][:, None]], axis=1)
    row = batch["input_row"] if existing else batch["row"]
    cols = {"item_id": pa.array(np.asarray(batch["item_id"])[keep].astype(str), pa.string()),
            "row": np.asarray(row)[keep].astype(np.int64),
            "codes": pa.FixedSizeListArray.from_arrays(codes.reshape(-1), levels).cast(pa.list_(pa.int64())),
            "sid": pa.FixedSizeListArray.from_arrays(sid.reshape(-1), levels + 1).cast(pa.list_(pa.int64()))}
    if vq and not existing:
        v = np.stack([batch[f"v{j}"][keep] for j in range(vq)], axis=1).astype(np.int64)
        cols["vq_codes"] = pa.FixedSizeListArray.from_arrays(v.reshape(-1), vq).cast(pa.list_(pa.int64()))
    return pa.table(cols)


def assign_on_ray(model_dir: str | Path, items: str | Path, *, collisions: dict | None = None,
                  out_shards: str | Path | None = None, address: str | None = None, num_cpus: int | None = None,
                  workers: int | None = None, num_gpus_per_worker: float = 0.0, cache_dir: str | None = None,
                  encode_batch_size: int = 64, progress: bool = True) -> dict:
    """SIDs for every item of the shards ``items`` with the model in ``model_dir``; see the module doc.
    Returns {"version", "new", "existing", "collisions", "quality_before", "quality_after", "seconds",
    "output"}."""
    t0 = time.perf_counter()
    model_dir = Path(model_dir)
    manifest, sizes, vq = _model(model_dir)
    levels = len(sizes)
    settings = resolve_settings(manifest.get("collisions"), collisions)
    shards = list_shards(items)
    columns = shard_schema(shards)
    pieces = plan_pieces(shards)
    _check_input(model_dir, manifest, columns, pieces[0])
    n_input = sum(p.rows for p in pieces)
    k = settings["k"] if settings["mode"] in ROW_MOVES else 0
    partitions = max(2, n_input // ROWS_PER_PARTITION + 1)
    lock = file_lock(model_dir / LOCK) if out_shards is None else nullcontext()
    seconds: dict[str, float] = {}
    with lock, ray_session(address, num_cpus, progress):
        ray = require_ray()
        if out_shards is None:
            remove_stale_temps(model_dir)  # a killed job's staged parts; we hold the lock
        numbers = version_numbers(model_dir)
        current = numbers[-1] if numbers else 0
        t = time.perf_counter()
        pool, cpus_each = actor_pool(ray.cluster_resources().get("CPU", 1), workers)
        encoded = ray.data.from_items([p.as_row() for p in pieces]).map_batches(
            EncodePieces, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=cpus_each,
            num_gpus=num_gpus_per_worker or None,
            fn_constructor_kwargs=dict(model_dir=str(model_dir), manifest=manifest, columns=columns, candidates=k,
                                       vq=bool(vq), cache_dir=cache_dir, encode_batch_size=encode_batch_size),
        ).materialize()
        seconds["encode"] = time.perf_counter() - t
        _say(progress, f"[assign] {n_input} items in {len(shards)} shards encoded in {seconds['encode']:.1f}s")

        t = time.perf_counter()
        table = ray.data.from_items(table_pieces(model_dir)).map_batches(
            read_table_rows, batch_size=1, batch_format="numpy",
            fn_kwargs=dict(levels=levels, fill={"k": k, "v": vq}))
        n_table = _table_rows(model_dir)
        groups = max(16, min(4096, (n_input + n_table) // ROWS_PER_GROUP))
        rows = encoded.map_batches(_mark_new, batch_format="pyarrow").union(table)
        new_and_table = rows.map_batches(with_id_group, batch_format="numpy",
                                         fn_kwargs=dict(groups=groups, source=str(items))) \
            .groupby("id_group", num_partitions=partitions).map_groups(
                split_known, batch_format="numpy", fn_kwargs=dict(source=str(items)))
        settled = new_and_table.map_batches(with_group, batch_format="numpy",
                                            fn_kwargs=dict(sizes=sizes, groups=groups)) \
            .groupby("group", num_partitions=partitions).map_groups(
                settle_group, batch_format="numpy",
                fn_kwargs=dict(mode=settings["mode"], capacity=settings["capacity"], sizes=sizes)).materialize()
        sums = settled.map_batches(partial_quality, batch_format="numpy",
                                   fn_kwargs=dict(levels=levels, sizes=sizes)).take_all()
        after, moves = combine_quality(sums, levels, sizes)
        n_new = after["n_items"] - n_table
        seconds["collisions"] = time.perf_counter() - t
        _say(progress, f"[assign] {n_new} new items; ids and collision step in {seconds['collisions']:.1f}s")

        t = time.perf_counter()
        meta = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "n_items": n_new,
                "engine": "ray", "collisions": {**settings, **moves},
                "quality_before": _quality_at(model_dir, current),
                "quality_after": {k: after[k] for k in SHOWN}}
        pack = dict(levels=levels, vq=vq)
        if out_shards is None:
            number = current + 1
            if n_new:
                staging = model_dir / VERSIONS / f".v{number:06d}.staging-{uuid.uuid4().hex[:8]}"
                settled.map_batches(_rows, batch_format="numpy", fn_kwargs=dict(existing=False, **pack)) \
                    .write_parquet(str(staging), min_rows_per_file=ROWS_PER_FILE)
                write_json(staging / META_FILE, {"version": number, **meta})
                os.rename(staging, model_dir / VERSIONS / f"v{number:06d}")  # the commit
            else:
                number = current
            output = str(model_dir / VERSIONS / f"v{number:06d}") if n_new else None
        else:
            number = current
            answered = settled.map_batches(_rows, batch_format="numpy", fn_kwargs=dict(existing=True, **pack))
            fresh = settled.map_batches(_rows, batch_format="numpy", fn_kwargs=dict(existing=False, **pack))
            if vq:
                fresh = fresh.drop_columns(["vq_codes"])
            output = str(_commit_shards(Path(out_shards), fresh.union(answered),
                                        {"model": str(model_dir.resolve()), "model_version": number,
                                         "codebook_sizes": sizes, "levels": levels,
                                         "items": str(items), "n_items": n_input, "new": n_new, **meta}))
        seconds["write"] = time.perf_counter() - t
    return {"version": number, "new": n_new, "existing": n_input - n_new, "output": output, **meta,
            "quality_after_full": after, "stage_seconds": {k: round(v, 3) for k, v in seconds.items()},
            "seconds": round(time.perf_counter() - t0, 3),
            "driver_peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM where Linux has it (ru_maxrss also counts a parent's RSS at fork)."""
    try:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
        return round(int(line.split()[1]) / 1024, 1)
    except (OSError, StopIteration, ValueError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def actor_pool(cluster_cpus: float, workers: int | None = None) -> tuple[int, float]:
    """(encode actors, CPUs each asks for): one actor per CPU unless ``workers`` says otherwise, but
    together they reserve at most all CPUs but one. Actors that reserve every CPU leave none for the
    tasks that feed them, and the dataset hangs (ray-project/ray#44687); here that happened on 2 cores
    whenever other processes kept them busy, since the actors then got their slots first."""
    pool = workers or max(1, int(cluster_cpus))
    return pool, min(1.0, max(0.0, cluster_cpus - 1) / pool)


def _table_rows(model_dir: Path) -> int:
    return sum(pq.ParquetFile(p["path"]).metadata.row_group(p["row_group"]).num_rows for p in table_pieces(model_dir))


def _quality_at(model_dir: Path, number: int) -> dict:
    """The table's figures before this job: the latest version's record, else the fit's quality.json."""
    if number:
        return version_meta(model_dir, number).get("quality_after", {})
    path = model_dir / "quality.json"
    quality = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {k: quality[k] for k in SHOWN if k in quality}


SHARDS_MANIFEST = "manifest.json"


def _commit_shards(out: Path, ds, record: dict) -> Path:
    """Write ``ds`` into a staging folder, rename it to ``run-*`` and commit by renaming the manifest in;
    then remove runs and staging folders the manifest no longer names (a killed job's, a replaced run)."""
    out.mkdir(parents=True, exist_ok=True)
    name = f"run-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    staging = out / f".staging-{name}"
    ds.write_parquet(str(staging), min_rows_per_file=ROWS_PER_FILE)
    os.rename(staging, out / name)
    files = sorted(p.name for p in (out / name).glob("*.parquet"))
    write_json(out / SHARDS_MANIFEST, {"run": name, "files": files, **record})  # the commit
    for old in out.iterdir():
        if old.is_dir() and old.name != name and (old.name.startswith("run-") or old.name.startswith(".staging-")):
            shutil.rmtree(old, ignore_errors=True)
    return out / name
