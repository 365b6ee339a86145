"""Zarr v3 stores that are either complete or visibly not.

A store is written to ``<path>.partial`` and renamed to ``<path>`` only when every
block has been written, so a store at its final path is always complete. Blocks
are whole chunks along one outer dimension (``time`` or ``init_time``); after each
block the set of finished blocks is recorded (atomically) in
``<path>.partial.progress.json``. A writer killed at any moment and started
again with the same inputs (the same *fingerprint*) skips the finished blocks;
a block written but not yet recorded is simply written again, identically.

One writer at a time: a writer holds an exclusive lock on ``<path>.lock``
(``flock``, released by the kernel even when the process is killed), and a second
writer of the same store refuses at once with a clear error instead of interleaving
blocks with the first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr
import zarr
from tqdm.auto import tqdm

from .errors import DataError, InputError, describe

try:  # POSIX; elsewhere stores are written without the single-writer guard
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

COMPLETE_ATTR = "forecast_store_complete"
FINGERPRINT_ATTR = "forecast_store_fingerprint"
DEFAULT_CHUNK_BYTES = 4 * 2**20
# Writes more groups from the stored root group once its blocks are written (see write_store).
Derived = Callable[[xr.Dataset, Path], None]


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable inputs."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def choose_chunks(
    sizes: dict[str, int],
    itemsize: int,
    outer: str,
    target_bytes: int | None = None,
    outer_max: int | None = None,
) -> dict[str, int]:
    """Whole fields in space; members, then lead times, then the outer dimension grow
    (from 1) while a chunk stays under ``target_bytes`` (and the outer one up to ``outer_max``).

    Reading one sample (a time, or an init/lead pair with all its members) then
    touches one or a few files, and small grids do not make millions of tiny files.
    """
    target_bytes = target_bytes or DEFAULT_CHUNK_BYTES
    chunks = {dim: (size if dim in ("lat", "lon") else 1) for dim, size in sizes.items()}
    for dim in ("member", "lead_time", outer):
        if dim not in sizes:
            continue
        others = int(np.prod([c for d, c in chunks.items() if d != dim])) * itemsize
        chunks[dim] = int(max(1, min(sizes[dim], target_bytes // max(others, 1))))
    if outer_max is not None and outer in chunks:
        chunks[outer] = max(1, min(chunks[outer], outer_max))
    return chunks


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def progress_record(path: Path) -> Path:
    """Where :func:`write_store` records the finished blocks of ``path`` while writing it."""
    return path.with_name(path.name + ".partial.progress.json")


def _lock_file(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextmanager
def single_writer(path: Path) -> Iterator[None]:
    """Hold the store's writer lock, or refuse if another process holds it."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock = _lock_file(path)
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise DataError(
                f"another forecast process ({holder}) is writing this store; wait for it to "
                "finish (its work is kept), then run again",
                str(path),
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_json_atomic(path: Path, content: dict[str, Any], **dumps: Any) -> None:
    """Write JSON to a temporary file and rename it: readers see the old or the new, whole."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(content, **dumps))
    os.replace(tmp, path)


def _store_attrs(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        return dict(zarr.open_group(str(path), mode="r").attrs)
    except Exception:
        return {}


def is_complete(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a finished store written by :func:`write_store`."""
    return bool(_store_attrs(path).get(COMPLETE_ATTR, False))


def open_complete(path: str | os.PathLike[str], group: str | None = None) -> xr.Dataset:
    """Open a finished store (or one of its groups); refuse an unfinished one clearly."""
    path = Path(path)
    if not path.exists():
        hint = (
            " (an interrupted write: run the same command again to finish it)"
            if _partial(path).exists()
            else ""
        )
        raise DataError(f"no such store{hint}", str(path))
    if not is_complete(path):
        raise DataError(
            "not a complete store written by forecast (no completion record)", str(path)
        )
    return xr.open_zarr(path, group=group, chunks={}, consolidated=False)


@contextmanager
def _writable(path: Path) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield
    except PermissionError as error:
        raise DataError(f"cannot write here ({error.strerror})", str(path)) from None
    except OSError as error:
        raise DataError(
            f"write failed ({error.strerror or error}); fix and run again to resume", str(path)
        ) from None


@dataclass(frozen=True)
class Team:
    """Processes writing one store together (``torchrun`` ranks): who this one is, and how
    they wait for each other. Rank 0 holds the lock, writes metadata and finishes the store;
    every rank writes its share of the blocks and records them in its own progress file."""

    rank: int = 0
    world: int = 1
    barrier: Callable[[], None] = lambda: None


SOLO = Team()


def write_store(
    path: str | os.PathLike[str],
    groups: dict[str, xr.Dataset],
    *,
    outer: str,
    key: str,
    overwrite: bool = False,
    progress: bool = True,
    description: str = "writing",
    check: Callable[[xr.Dataset], None] | None = None,
    chunk_bytes: int | None = None,
    outer_chunk: int | None = None,
    team: Team = SOLO,
    derived: Derived | None = None,
) -> Path:
    """Write datasets as groups of one zarr store ("" is the root), resumably.

    Parameters
    ----------
    path
        Final store path. Nothing appears there until the write is complete.
    groups
        Group name -> lazy dataset, the root ("") first. Datasets with the ``outer``
        dimension are written block by block; the others whole (and skipped on resume).
    outer
        The dimension along which blocks are written and progress is recorded.
    key
        Fingerprint of the inputs; a partial store with another key is discarded.
    overwrite
        Replace an existing complete store whose key differs; with the same key the
        existing store is kept as it is.
    check
        Called on every loaded block before it is written; raises :class:`DataError`
        to stop the write (what was written stays resumable, nothing looks complete).
    chunk_bytes, outer_chunk
        Target chunk size and most ``outer`` values per chunk, hence per block, for
        :func:`choose_chunks` (part of what ``key`` must cover). ``outer_chunk=1`` makes
        every outer value its own block: the unit of resumption when blocks are costly.
    team
        Several processes sharing the work (see :class:`Team`); the blocks still to do
        are dealt out in turn, so the store is the same whatever the number of processes.
    derived
        Called once every block is written, with the root group as stored (lazy) and the
        partial store's path, into which it writes more groups (without the ``outer``
        dimension; it replaces any it finds, which a killed write left). Statistics of
        the data read back from the store this way cost no second pass over a slow source.
    """
    path = Path(path)
    partial, progress_file = _partial(path), progress_record(path)
    lead = team.rank == 0
    with _writable(path), single_writer(path) if lead else nullcontext():
        if lead:
            _begin(path, partial, progress_file, key, overwrite)
        team.barrier()
        if _finished(path, key):
            return path
        if lead:
            record = _read_json(progress_file)
            for name, ds in groups.items():
                state = record["groups"].setdefault(name, {"template": False, "done": []})
                if not state["template"]:
                    # A template write killed half-way leaves some arrays: start afresh.
                    shutil.rmtree(partial / name if name else partial, ignore_errors=True)
                    _write_template(ds, partial, name, outer, chunk_bytes, outer_chunk)
                    state["template"] = True
                    write_json_atomic(progress_file, record)
        team.barrier()
        record = _read_json(progress_file)
        mine = progress_file if lead else _rank_progress_file(path, team.rank)
        own = record if lead else _read_json(mine) or {"key": key, "groups": {}}
        # What is done, as every process sees it before any writes: they split the rest alike.
        others = _records_of_others(path, key)
        done = {
            name: set(record["groups"][name]["done"]).union(
                *(r.get("groups", {}).get(name, {}).get("done", []) for r in others)
            )
            for name, ds in groups.items()
            if outer in ds.dims
        }
        team.barrier()
        for name, ds in groups.items():
            if outer in ds.dims:
                state = own["groups"].setdefault(name, {"template": True, "done": []})
                _write_blocks(
                    ds,
                    partial,
                    name,
                    outer,
                    done[name],
                    lambda start, state=state: _record(state, start, own, mine),
                    team,
                    progress and lead,
                    description,
                    check,
                )
        team.barrier()
        if lead and derived is not None and not record.get("derived"):
            _write_derived(derived, partial, progress_file, record)
        team.barrier()
        if lead:
            root = zarr.open_group(str(partial), mode="r+")
            root.attrs.update({COMPLETE_ATTR: True, FINGERPRINT_ATTR: key})
            if path.exists():
                shutil.rmtree(path)
            os.replace(partial, path)
            for leftover in (progress_file, *_rank_progress_files(path)):
                leftover.unlink(missing_ok=True)
            _lock_file(path).unlink(missing_ok=True)
        team.barrier()
    return path


class StaleStoreError(DataError):
    """A finished store is in the way that was made from other inputs (another key)."""


def _begin(path: Path, partial: Path, progress_file: Path, key: str, overwrite: bool) -> None:
    """Keep a finished store with this key; otherwise make sure a partial one can resume."""
    if path.exists():
        if _finished(path, key):
            return
        if not overwrite:
            raise StaleStoreError(
                "exists and was made from other inputs; pass --overwrite to replace it", str(path)
            )
    record = _read_json(progress_file)
    if record.get("key") != key or not partial.exists():
        shutil.rmtree(partial, ignore_errors=True)
        for stale in _rank_progress_files(path):
            stale.unlink()
        write_json_atomic(progress_file, {"key": key, "groups": {}})


def _finished(path: Path, key: str) -> bool:
    attrs = _store_attrs(path) if path.exists() else {}
    return bool(attrs.get(COMPLETE_ATTR)) and attrs.get(FINGERPRINT_ATTR) == key


def _rank_progress_file(path: Path, rank: int) -> Path:
    return path.with_name(f"{path.name}.partial.progress.rank{rank}.json")


def _rank_progress_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.partial.progress.rank*.json"))


def _records_of_others(path: Path, key: str) -> list[dict[str, Any]]:
    """Progress records of the other processes of a team (now or in an earlier run)."""
    records = [_read_json(file) for file in _rank_progress_files(path)]
    return [r for r in records if r.get("key") == key]


def _record(state: dict[str, Any], start: int, record: dict[str, Any], file: Path) -> None:
    state["done"].append(start)
    write_json_atomic(file, record)


def _zarr_group(group: str) -> str | None:
    return group or None


def project_encoding(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without its source's storage encoding (compressor, filters, chunks, fill value,
    dtype packing, time units): the store chooses its own, whatever format the data came from.

    A zarr v2 source's Blosc compressor, for one, cannot be written into a zarr v3 store.
    """
    return ds.drop_encoding()


def _write_template(
    ds: xr.Dataset,
    partial: Path,
    group: str,
    outer: str,
    chunk_bytes: int | None,
    outer_chunk: int | None,
) -> None:
    """Write metadata and coordinates; with the outer dimension, the data come later by block."""
    mode = "a" if partial.exists() else "w-"
    ds = project_encoding(ds)
    if outer not in ds.dims:
        _load(ds, f"group {group or '/'}").to_zarr(
            partial, group=_zarr_group(group), mode=mode, consolidated=False, zarr_format=3
        )
        return
    chunks = {}
    for name, variable in ds.data_vars.items():
        chosen = choose_chunks(
            dict(variable.sizes), variable.dtype.itemsize, outer, chunk_bytes, outer_chunk
        )
        chunks[name] = tuple(chosen[d] for d in variable.dims)
    encoding = {name: {"chunks": c} for name, c in chunks.items()}
    template = ds.chunk({d: -1 for d in ds.dims})
    template.to_zarr(
        partial,
        group=_zarr_group(group),
        mode=mode,
        compute=False,
        consolidated=False,
        zarr_format=3,
        encoding=encoding,
        safe_chunks=False,
    )


def _write_derived(
    derived: Derived, partial: Path, progress_file: Path, record: dict[str, Any]
) -> None:
    """Let ``derived`` write its groups from the stored root group, then record them."""
    derived(xr.open_zarr(partial, consolidated=False), partial)
    record["derived"] = True
    write_json_atomic(progress_file, record)


def _stored_chunk(partial: Path, group: str, dim: str) -> int:
    """The smallest chunk along ``dim`` of the group's stored variables (its size if none)."""
    ds = xr.open_zarr(partial, group=_zarr_group(group), consolidated=False)
    sizes = [
        v.encoding["chunks"][v.dims.index(dim)] for v in ds.data_vars.values() if dim in v.dims
    ]
    return min(sizes) if sizes else ds.sizes[dim]


def _load(block: xr.Dataset, where: str) -> xr.Dataset:
    """Read one block; a source that fails to decode is a :class:`DataError` naming it."""
    return load_together({"": block}, where)[""]


def load_together(blocks: dict[str, xr.Dataset], where: str) -> dict[str, xr.Dataset]:
    """Read datasets in one computation, so inputs they share are read once (see _load);
    datasets already in memory pass through at no cost."""
    try:
        computed = dask.compute(*blocks.values())
        return {name: ds.load() for name, ds in zip(blocks, computed, strict=True)}
    except (InputError, MemoryError):
        raise
    except Exception as error:
        first = next(iter(blocks.values()))
        source = first.attrs.get("source") or first.attrs.get("entry")
        raise DataError(
            f"reading the data failed at {where} ({describe(error)}); the file "
            "may be truncated or corrupted",
            str(source) if source else None,
        ) from error


def _write_blocks(
    ds: xr.Dataset,
    partial: Path,
    group: str,
    outer: str,
    done: set[int],
    record: Callable[[int], None],
    team: Team,
    progress: bool,
    description: str,
    check: Callable[[xr.Dataset], None] | None,
) -> None:
    block = _stored_chunk(partial, group, outer)
    starts = range(0, ds.sizes[outer], block)
    todo = [s for s in starts if s not in done][team.rank :: team.world]
    blockwise = ds.drop_vars([n for n, v in ds.variables.items() if outer not in v.dims])
    label = f"{description} {group}".strip()
    parts = _parts(partial, group, outer, blockwise)
    for start in tqdm(
        todo, desc=label, unit="block", disable=not progress, initial=len(done), total=len(starts)
    ):
        for part in parts:
            region = {outer: slice(start, min(start + block, ds.sizes[outer])), **part}
            # Loaded first: numpy writes cannot race on a shared zarr chunk.
            piece = _load(blockwise.isel(region), f"{outer} {start}")
            if check is not None:  # with every coordinate, so that errors can name values
                check(piece.assign_coords(ds.isel(region).coords))
            project_encoding(piece).to_zarr(
                partial, group=_zarr_group(group), region=region, consolidated=False, zarr_format=3
            )
        record(start)


def _parts(partial: Path, group: str, outer: str, blockwise: xr.Dataset) -> list[dict[str, slice]]:
    """How one block is loaded and written: whole, or in chunk-aligned slices of lead time.

    A block of a large ensemble (every member and lead time of one init time: 52 GB at 0.25
    degrees) need not fit in memory; when lead times are chunked separately each lead
    chunk is loaded and written on its own. Progress is still recorded per block.
    """
    inner = "lead_time"
    if inner not in blockwise.dims or any(
        inner not in v.dims for v in blockwise.data_vars.values()
    ):
        return [{}]
    step = _stored_chunk(partial, group, inner)
    size = blockwise.sizes[inner]
    return [{inner: slice(i, min(i + step, size))} for i in range(0, size, step)]
