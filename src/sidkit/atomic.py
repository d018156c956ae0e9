"""Atomic writes: a reader sees the old file or the new one, never half of one.

Every file sidkit writes goes through here. A crash (or a kill) in the middle leaves only a hidden temp
name behind; the next output into the same folder removes those of dead writers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from sidkit.errors import SidkitError

MARKER = "manifest.json"  # a folder holding this file is a sidkit output and may be replaced


def write_file(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and rename the result onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    def _write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=False, allow_nan=False)
            f.write("\n")

    return write_file(path, _write)


def write_bytes(path: str | Path, data: bytes) -> Path:
    return write_file(path, lambda tmp: tmp.write_bytes(data))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_stale_outputs(out: Path) -> None:
    """Remove temp folders of earlier runs into ``out`` that were killed (SIGKILL, power loss): their
    names carry the writer's process id, so a live concurrent run's folder is left alone."""
    for tmp in out.parent.glob(f".{out.name}.*.*"):
        parts = tmp.name[len(out.name) + 2:].split(".")
        if tmp.is_dir() and len(parts) >= 3 and parts[0].isdigit() and parts[-1] in ("tmp", "old") \
                and not _pid_alive(int(parts[0])):
            shutil.rmtree(tmp, ignore_errors=True)


def check_writable(folder: Path) -> None:
    """Fail before the expensive part, not after it: create ``folder`` and a file in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sidkit-write-check.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise SidkitError(f"{folder}: cannot write there ({e.strerror or type(e).__name__}); expected a writable "
                          "folder for --out") from None


def check_output_dir(out: str | Path) -> Path:
    """Refuse an ``--out`` that holds something other than a previous sidkit output, or that cannot be
    written."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise SidkitError(f"{out}: --out exists and is a file; expected a folder to create")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise SidkitError(
                f"{out}: --out exists and is not a sidkit output (no {MARKER}); "
                "expected a new folder or a previous sidkit output to replace"
            )
    check_writable(out.parent)
    return out


@contextmanager
def output_dir(out: str | Path) -> Iterator[Path]:
    """Yield a fresh temp folder beside ``out``; on success it replaces ``out`` in one rename.

    On any error the temp folder is removed, so a failed run leaves no output folder behind (and an
    earlier output, if there was one, untouched).
    """
    out = check_output_dir(out)
    remove_stale_outputs(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "x")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
