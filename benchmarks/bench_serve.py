"""Load test of `sidkit serve` on loopback: lookup latency at a fixed request rate, lookup throughput,
batch lookups, and assigns of 1,000 given embeddings (over HTTP and straight on the store).

    python benchmarks/bench_serve.py [--dataset beauty --data-dir ../shared/datasets/beauty] [--rate 500]
                                     [--embedding-format b64|json]

Fits rq-kmeans on the data set's titles once (benchmarks/out/serve_fit), serves a fresh copy of it, and
appends a JSON record to benchmarks/out/serve.jsonl. Latency at a fixed rate is measured from each
request's scheduled send time, so a stalled server cannot hide behind a slowed-down client
(coordinated omission); client and server share this machine's cores.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

OUT = Path("benchmarks/out")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive connection per thread: what a service calling sidkit would hold."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> int:
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        r.read()
        return r.status

    def post(self, path: str, body: bytes) -> bytes:
        self.conn.request("POST", path, body, {"content-type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{path}: {r.status} {data[:200]!r}")
        return data


def paced_lookups(port: int, ids: list[str], rate: float, seconds: float, threads: int) -> dict:
    """Open loop: request i is due at start + i/rate; latency counts from when it was due."""
    n = int(rate * seconds)
    due_latency, service = np.zeros(n), np.zeros(n)
    counter = itertools.count()
    rng = np.random.default_rng(0)
    picks = [ids[k] for k in rng.integers(0, len(ids), n)]
    errors = []
    start = time.perf_counter() + 0.2

    def work() -> None:
        client = Client(port)
        while (i := next(counter)) < n:
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            if client.get(f"/sids/{picks[i]}") != 200:
                errors.append(picks[i])
            done = time.perf_counter()
            due_latency[i], service[i] = done - due, done - sent

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    achieved = n / (time.perf_counter() - start)
    ms = lambda a, q: round(float(np.percentile(a, q)) * 1000, 3)  # noqa: E731
    return {"target_rps": rate, "achieved_rps": round(achieved, 1), "requests": n, "errors": len(errors),
            "p50_ms": ms(due_latency, 50), "p99_ms": ms(due_latency, 99), "max_ms": ms(due_latency, 100),
            "service_p50_ms": ms(service, 50), "service_p99_ms": ms(service, 99)}


def max_throughput(port: int, ids: list[str], seconds: float, threads: int) -> dict:
    """Closed loop: each thread sends its next lookup as soon as the last one answered."""
    stop = time.perf_counter() + seconds
    counts = []

    def work(seed: int) -> None:
        client, rng, k = Client(port), np.random.default_rng(seed), 0
        while time.perf_counter() < stop:
            client.get(f"/sids/{ids[rng.integers(len(ids))]}")
            k += 1
        counts.append(k)

    pool = [threading.Thread(target=work, args=(s,)) for s in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"threads": threads, "rps": round(sum(counts) / seconds, 1)}


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--data-dir", default="../shared/datasets/beauty")
    ap.add_argument("--template", default="{title}")
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--assigns", type=int, default=10, help="1,000-item assigns over HTTP (and as many on the store)")
    ap.add_argument("--embedding-format", choices=("json", "b64"), default="b64",
                    help="assign bodies carry vectors as JSON numbers or as base64 float32 (default)")
    args = ap.parse_args()

    from sidkit.data import load_dataset
    from sidkit.data.types import Catalog
    from sidkit.sid_store import SIDStore
    from sidkit.workflow import fit_to_dir, prepare

    fitted = OUT / f"serve_fit_{args.dataset}"
    if not (fitted / "sids.parquet").is_file():
        ds = load_dataset(args.dataset, args.data_dir, template=args.template)
        fit_to_dir(prepare(ds, need_pairs=False), "rq-kmeans", fitted)
    model_dir = OUT / "serve_model"
    shutil.rmtree(model_dir, ignore_errors=True)
    shutil.copytree(fitted, model_dir)
    store = SIDStore(model_dir)
    ids = list(store.snapshot.item_ids)
    dim = store.manifest["content"]["dim"]
    rng = np.random.default_rng(0)

    def new_batch(tag: str) -> list[dict]:
        x = rng.normal(size=(1000, dim)).astype(np.float32)
        if args.embedding_format == "b64":  # what a client sending many vectors should use
            return [{"item_id": f"{tag}-{k}", "embedding_b64": base64.b64encode(v.astype("<f4").tobytes()).decode()}
                    for k, v in enumerate(x)]
        return [{"item_id": f"{tag}-{k}", "embedding": v} for k, v in enumerate(x.round(6).tolist())]

    def vectors(batch: list[dict]) -> np.ndarray:
        if args.embedding_format == "b64":
            return np.stack([np.frombuffer(base64.b64decode(b["embedding_b64"]), "<f4") for b in batch])
        return np.array([b["embedding"] for b in batch], dtype=np.float32)

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "sidkit.cli", "serve", str(model_dir), "--port", str(port)],
                              stdout=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                Client(port).get("/healthz")
                break
            except OSError:
                time.sleep(0.1)
        Client(port).get(f"/sids/{ids[0]}")  # warm
        result = {"paced": paced_lookups(port, ids, args.rate, args.seconds, args.threads)}
        result["closed_loop"] = max_throughput(port, ids, 10, args.threads)
        client = Client(port)
        body = json.dumps({"item_ids": ids[:1000]}).encode()
        result["batch_lookup_1000_ms"] = round(float(np.median(timed(lambda: client.post("/sids/batch", body), 20))) * 1000, 2)
        bodies = [json.dumps({"items": new_batch(f"http{k}")}).encode() for k in range(args.assigns)]
        http_times = [timed(lambda b=b: client.post("/assign", b), 1)[0] for b in bodies]
        result["assign_1000_http_s"] = {"median": round(float(np.median(http_times)), 3),
                                        "max": round(max(http_times), 3), "body_mb": round(len(bodies[0]) / 2**20, 2)}
        result["lookup_after_assigns"] = paced_lookups(port, ids, args.rate, 5, args.threads)
        # lookups while 1,000-item assigns keep arriving: what a reader sees during the daily upload
        # bodies built beforehand: json.dumps holds this process's GIL and would stall our own lookups
        busy, done = threading.Event(), []
        busy_bodies = [json.dumps({"items": new_batch(f"busy{k}")}).encode() for k in range(40)]

        def assigner() -> None:
            writer = Client(port)
            while not busy.is_set() and len(done) < len(busy_bodies):
                writer.post("/assign", busy_bodies[len(done)])
                done.append(1)

        background = threading.Thread(target=assigner)
        background.start()
        try:
            result["lookup_during_assigns"] = paced_lookups(port, ids, args.rate, 10, args.threads)
        finally:
            busy.set()
            background.join()
        result["lookup_during_assigns"]["assigns_meanwhile"] = len(done)
    finally:
        server.terminate()
        server.wait(timeout=30)
    # the same assigns straight on the store, in this process: the cost without HTTP and JSON
    store = SIDStore(model_dir)
    direct = []
    for k in range(args.assigns):
        batch = new_batch(f"direct{k}")
        cat = Catalog([b["item_id"] for b in batch], embeddings={"embedding": vectors(batch)})
        direct.append(timed(lambda: store.assign(cat), 1)[0])
    result["assign_1000_store_s"] = {"median": round(float(np.median(direct)), 3), "max": round(max(direct), 3)}
    result["n_items_after"] = len(store.snapshot.item_ids)
    result["machine"] = f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    result["dataset"] = args.dataset
    result["embedding_format"] = args.embedding_format
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "serve.jsonl").open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
