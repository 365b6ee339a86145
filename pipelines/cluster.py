"""Where dask computes: an existing dask.distributed cluster, a local one, or threads.

``prepare`` and ``score`` build lazy xarray/dask graphs and compute them block by block;
a :class:`distributed.Client` made the default scheduler runs those computations on its
workers with no other change, so the same commands scale from a laptop to a cluster.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .catalog import expand_path
from .errors import DataError, describe

log = logging.getLogger(__name__)

SCHEDULER_ENV = "FORECAST_SCHEDULER"
LOCAL, THREADS = "local", "threads"
MEMORY_SHARE = 0.8  # of the machine's RAM given to the workers; the rest for the client
# Below this threads in the process beat a local cluster, whose start (~3 s) and moving of
# blocks between processes cost more than its processes save: on 2 cores a 142 MB GRIB
# prepares in 25-28 s on threads against 44-48 s on a 2-worker cluster (RESULTS.md).
# Above it the cluster's per-worker memory limits (spilling) are worth their cost.
SMALL_INPUT_BYTES = 2**30


def default_scheduler(input_bytes: int | None = None) -> str:
    """``$FORECAST_SCHEDULER`` if set; else threads for inputs known to be smaller than
    ``SMALL_INPUT_BYTES``, a local cluster for larger or unknown ones."""
    if chosen := os.environ.get(SCHEDULER_ENV):
        return chosen
    if input_bytes is not None and input_bytes < SMALL_INPUT_BYTES:
        return THREADS
    return LOCAL


def local_input_bytes(paths: Iterable[str | os.PathLike[str]]) -> int | None:
    """Total size of the files or folders (zarr stores) at ``paths`` (globs allowed).

    None when any is remote (a URL): its size is unknown. A missing path counts 0: reading
    it fails at once with a clear error, which needs no cluster started first.
    """
    total = 0
    for path in map(str, paths):
        if "://" in path:
            return None
        for match in map(Path, expand_path(path)):
            if not match.exists():
                continue
            files = [match] if match.is_file() else (f for f in match.rglob("*") if f.is_file())
            total += sum(f.stat().st_size for f in files)
    return total


def local_cluster_size(
    cores: int | None = None, memory_bytes: int | None = None
) -> tuple[int, int, int]:
    """Workers, threads per worker and memory limit per worker (bytes) for this machine.

    Up to 4 worker processes (the GIL-free numpy/zarr work scales with threads inside each);
    together they may use ``MEMORY_SHARE`` of the RAM, past which dask spills, then pauses,
    rather than the machine swapping.
    """
    import psutil

    cores = cores or os.cpu_count() or 1
    memory_bytes = memory_bytes or psutil.virtual_memory().total
    workers = max(1, min(4, cores))
    threads = max(1, cores // workers)
    return workers, threads, int(MEMORY_SHARE * memory_bytes / workers)


@contextmanager
def dask_scheduler(scheduler: str | None = None, input_bytes: int | None = None) -> Iterator[str]:
    """Compute inside this block on ``scheduler``; yields a description of it.

    Parameters
    ----------
    scheduler
        A dask.distributed scheduler address (``tcp://host:8786``), ``"local"`` (a
        :class:`distributed.LocalCluster` sized by :func:`local_cluster_size`), or
        ``"threads"`` (dask's threaded scheduler in this process, no cluster). Default:
        :func:`default_scheduler` for ``input_bytes`` of input.
    """
    import dask

    scheduler = scheduler or default_scheduler(input_bytes)
    if scheduler == THREADS:
        yield "threads in this process"
        return
    # A client makes itself dask's default scheduler; put back what was there before, even
    # when connecting fails half-way.
    with dask.config.set(scheduler=dask.config.get("scheduler", None)):
        with _client(scheduler) as where:
            yield where


@contextmanager
def _client(scheduler: str) -> Iterator[str]:
    from distributed import Client, LocalCluster

    if scheduler == LOCAL:
        workers, threads, memory = local_cluster_size()
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            memory_limit=memory,
            dashboard_address=None,
            # a task's failure reaches the caller as an exception, said in one line; the
            # workers' own log of it (a traceback on stderr) would only bury that line
            silence_logs=logging.CRITICAL,
        )
        with cluster, Client(cluster):
            yield f"local cluster: {workers} workers x {threads} threads, {memory / 2**30:.1f} GiB each"
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as error:
        raise DataError(
            f"cannot connect to the dask scheduler ({describe(error)}); start it, or pass "
            f"--scheduler {LOCAL} or {THREADS}",
            scheduler,
        ) from None
    with client:
        yield f"dask scheduler {scheduler} ({len(client.scheduler_info()['workers'])} workers)"
