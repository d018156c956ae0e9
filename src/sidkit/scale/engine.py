"""Starting (or joining) Ray: a local cluster on a laptop or in tests, ``--address`` for a real one."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from sidkit.errors import SidkitError


def require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise SidkitError("--engine ray needs Ray Data; install it with: pip install 'sidkit[ray]'") from None
    return ray


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, progress: bool = True) -> Iterator[None]:
    """Use the Ray already started in this process (a notebook, a test), else start one for the job and
    stop it after: a local one with ``num_cpus`` (default: all cores), or join ``address`` (``auto``,
    ``ray://host:port``)."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SidkitError(f"--address {address}: cannot start or join Ray: {first}") from None
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    # Ray Data's per-stage progress is INFO logging when stderr is not a terminal (a nightly job's log)
    data_log = logging.getLogger("ray.data")
    data_log.setLevel(logging.INFO if progress else logging.WARNING)
    for handler in data_log.handlers:
        if not any(isinstance(f, _NoTaskTracebacks) for f in handler.filters):
            handler.addFilter(_NoTaskTracebacks())
    ctx.print_on_execution_start = False
    try:
        yield
    except Exception as e:
        cause = user_error(e)
        if cause is not None:  # raised in a task or an actor: the one line it carries, not Ray's traceback
            raise cause from None
        raise
    finally:
        if started:
            ray.shutdown()


_RAISED = "sidkit.errors.SidkitError: "


def user_error(e: BaseException) -> SidkitError | None:
    """The SidkitError a Ray task raised. Ray re-raises it in the driver as RayTaskError(UserCodeException)
    whose text holds the task's traceback; the error's own line is the one after its type."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if type(e) is SidkitError:  # exactly ours; RayTaskError(SidkitError) is one too, with Ray's header
            return e
        line = next((x for x in str(e).splitlines() if x.startswith(_RAISED)), None)
        if line:
            return SidkitError(line[len(_RAISED):])
        e = getattr(e, "cause", None) or e.__cause__ or e.__context__
    return None


class _NoTaskTracebacks(logging.Filter):
    """Ray Data logs a failed task's traceback before raising; the driver re-raises it as one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR
