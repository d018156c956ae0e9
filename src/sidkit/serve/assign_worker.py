"""Assigns in a process of their own, so lookups never share a GIL with them.

Parsing a 1,000-item body and encoding it hold the interpreter lock for tens of milliseconds at a time;
in the serving process every lookup queued behind that (BENCHMARKS.md: p99 140 ms under assign load).
Here one worker process opens the same model folder and commits versions through the store's file
lock, as a second `sidkit assign` process would; the server then loads the committed version. The
standard library's executor carries the bytes in and the answer out.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

_store = None  # the worker process's own SIDStore


def _open(directory: str, cache_dir: str | None) -> None:
    global _store
    import torch

    from sidkit.sid_store import SIDStore

    torch.set_num_threads(1)  # leave the other cores to lookups: an assign may take longer, a lookup may not

    _store = SIDStore(directory, cache_dir=cache_dir)


def _assign(raw: bytes, max_batch: int) -> tuple[int, bytes]:
    from sidkit.serve.assign_request import assign_response

    return assign_response(_store, raw, max_batch)


class AssignWorker:
    """One worker process, started on the first assign (spawned: a forked copy of a threaded server is
    not safe) and started again if it dies."""

    def __init__(self, directory: str | Path, cache_dir: str | Path | None) -> None:
        self.args = (str(directory), None if cache_dir is None else str(cache_dir))
        self._pool: ProcessPoolExecutor | None = None

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_open, initargs=self.args)
        return self._pool

    async def assign(self, raw: bytes, max_batch: int) -> tuple[int, bytes]:
        import asyncio
        import json

        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool(), _assign, raw, max_batch)
        except BrokenProcessPool:
            self._pool = None  # the next assign starts a fresh worker; the file lock kept the table whole
            return 500, json.dumps({"error": "the assign worker process died; nothing was committed by this "
                                             "request unless GET /healthz shows a new version"}).encode()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
