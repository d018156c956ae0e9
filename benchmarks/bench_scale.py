"""Catalogue scale on Ray: fit on a sample, assign a sharded catalogue, against the in-process path.

    python benchmarks/bench_scale.py --dim 128 --items 10000000 --sample 1000000 --compare 1000000 --work /tmp/scale

Steps, each a `sidkit` command in its own process (so each peak RSS is its own):
1. a synthetic catalogue (seeded mixture of Gaussians) as Parquet shards of --shard-items each;
2. `sidkit fit rq-kmeans --sample` (3 x 256) on a seeded sample, read shard by shard;
3. the first --compare items (whole shards) assigned in process and with --engine ray, same run, and
   their SIDs compared item for item;
4. every item assigned with --engine ray.
Reported: items/s, the Ray/in-process ratio, the driver's peak RSS (its own getrusage), the workers' peak
RSS (VmHWM of Ray's worker processes, sampled every 0.5 s), and the collision step's share of the time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

SIDKIT = str(Path(sys.executable).parent / "sidkit")


class WorkerPeak:
    """Largest VmHWM (peak RSS) seen among Ray's worker processes while a step runs."""

    def __init__(self) -> None:
        self.peak_kb, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for d in Path("/proc").iterdir():
                if not d.name.isdigit():
                    continue
                try:
                    if not (d / "cmdline").read_bytes().startswith(b"ray::"):
                        continue
                    for line in (d / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    pass
            self._stop.wait(0.5)

    def __enter__(self) -> "WorkerPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run(cmd: list[str], log: Path) -> tuple[float, dict, float]:
    """Run a sidkit command; (seconds, its JSON report on stdout, its own peak RSS in MB)."""
    t = time.perf_counter()
    # VmHWM, not ru_maxrss: Linux carries a parent's RSS at fork into the child's ru_maxrss across exec
    code = ("import sys; sys.argv = ['sidkit'] + sys.argv[1:]\n"
            "try:\n    from sidkit.cli import main; rc = main()\nfinally:\n"
            "    hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "    print(f'PEAK_RSS_KB {hwm}', file=sys.stderr)\n"
            "sys.exit(rc)")
    with open(log, "w") as err:
        out = subprocess.run([sys.executable, "-c", code, *cmd], stdout=subprocess.PIPE, stderr=err, text=True)
    seconds = time.perf_counter() - t
    tail = log.read_text()
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{tail[-3000:]}")
    peak = next(int(x.split()[1]) for x in tail.splitlines() if x.startswith("PEAK_RSS_KB"))
    text = out.stdout
    report = json.loads(text[text.index("{"):]) if "{" in text else {}
    return seconds, report, peak / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/sidkit-scale")
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--shard-items", type=int, default=250_000)
    p.add_argument("--sample", type=int, default=200_000)
    p.add_argument("--compare", type=int, default=250_000, help="items assigned both ways (whole shards)")
    p.add_argument("--codebook-size", type=int, default=256)
    p.add_argument("--num-cpus", type=int, default=os.cpu_count())
    p.add_argument("--skip-full", action="store_true", help="only the in-process / Ray comparison")
    args = p.parse_args()
    from sidkit.data.synthetic import write_gaussian_shards
    from sidkit.sids.table import SemanticIDs

    work = Path(args.work) / f"d{args.dim}-n{args.items}"
    items = work / "items"
    shards = -(-args.items // args.shard_items)
    t = time.perf_counter()
    if not (items / f"part-{shards - 1:05d}.parquet").exists():
        write_gaussian_shards(items, args.items, args.dim, shards, seed=0)
    print(f"catalogue: {args.items} items x {args.dim} in {shards} shards ({time.perf_counter() - t:.0f}s)", flush=True)
    first = work / "first"  # the first --compare items: whole shards, linked
    if first.exists():
        shutil.rmtree(first)
    first.mkdir()
    n_first = 0
    for s in range(shards):
        if n_first >= args.compare:
            break
        (first / f"part-{s:05d}.parquet").symlink_to(items / f"part-{s:05d}.parquet")
        n_first += min(args.shard_items, args.items - s * args.shard_items)

    model = work / "model"
    if model.exists():
        shutil.rmtree(model)
    fit_s, _, fit_rss = run(["fit", "rq-kmeans", "--items", str(items), "--sample", str(args.sample),
                             "--codebook-size", str(args.codebook_size), "--seed", "0", "--out", str(model)],
                            work / "fit.log")
    print(f"fit on a {args.sample} sample: {fit_s:.0f}s, peak RSS {fit_rss:.0f} MB", flush=True)

    rows = {}
    for engine in ("local", "ray"):
        copy = work / f"model-{engine}"
        if copy.exists():
            shutil.rmtree(copy)
        shutil.copytree(model, copy)
        cmd = ["assign", str(copy), "--items", str(first)] + (["--engine", "ray", "--num-cpus", str(args.num_cpus)]
                                                               if engine == "ray" else [])
        with WorkerPeak() as workers:
            s, report, rss = run(cmd, work / f"assign-{engine}.log")
        rows[engine] = {"items": n_first, "seconds": s, "rss": rss, "workers": workers.peak_kb / 1024, "report": report}
    if not args.skip_full:
        full = work / "model-full"
        if full.exists():
            shutil.rmtree(full)
        shutil.copytree(model, full)
        with WorkerPeak() as workers:
            s, report, rss = run(["assign", str(full), "--items", str(items), "--engine", "ray", "--num-cpus",
                                  str(args.num_cpus)], work / "assign-full.log")
        rows["ray-full"] = {"items": args.items, "seconds": s, "rss": rss, "workers": workers.peak_kb / 1024,
                            "report": report}

    a, b = SemanticIDs.read(work / "model-local"), SemanticIDs.read(work / "model-ray")  # read last: keeps this
    same = a.item_ids == b.item_ids and np.array_equal(a.sid, b.sid)                  # process small while the runs fork
    print(f"\nmachine: {os.cpu_count()} cores; Ray with --num-cpus {args.num_cpus}; dim {args.dim}, "
          f"3 x {args.codebook_size}, sample {args.sample}")
    print("| run | items | wall s | items/s | driver peak RSS MB | worker peak RSS MB | stages (s) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, r in rows.items():
        stages = r["report"].get("stage_seconds", {})
        print(f"| {name} | {r['items']:,} | {r['seconds']:.0f} | {r['items'] / r['seconds']:,.0f} | {r['rss']:.0f} | "
              f"{r['workers']:.0f} | {', '.join(f'{k} {v:.0f}' for k, v in stages.items()) or '-'} |")
    ratio = (rows['local']['seconds'] / rows['ray']['seconds'])
    print(f"\nRay / in-process throughput at {n_first:,} items: {ratio:.2f}x; identical SIDs: {same}")
    for name in ("ray", "ray-full"):
        if name in rows:
            st = rows[name]["report"].get("stage_seconds", {})
            print(f"{name}: collision step {st.get('collisions', 0) / rows[name]['seconds']:.0%} of the wall time")


if __name__ == "__main__":
    main()
