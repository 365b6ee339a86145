"""The climatology and statistics groups written in one streamed pass, memory bounded by fields.

:func:`pipelines.climatology.statistics_groups` builds the groups lazily on dask, but its
day-of-year sums are (3 moments x 366 days) fields per time block: at 0.25 degree 9 GB of
float64 per variable and block. Here the same sums are made one variable at a time:

1. the data are read in time blocks; each block's sums per day of year (only the days it
   holds) are added to a table of day sums, kept in memory when it is small and otherwise
   in a scratch zarr array with one chunk per day, beside the store, removed afterwards;
2. the totals over all days give the statistics group and the whole-record fallback;
3. the circular window sums are carried day by day (add the day entering the window,
   subtract the day leaving it), and each day's mean and standard deviation are written
   as they are made.

Peak memory is a time block and a few fields of float64, whatever the grid and record
length; the results equal :func:`~pipelines.climatology.statistics_groups`' to rounding.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import dask.array as dask_array
import numpy as np
import xarray as xr
import zarr
from tqdm.auto import tqdm

from .climatology import (
    DAYS,
    FLOORED_ATTR,
    MOMENTS,
    STATISTICS,
    DayMoments,
    day_sums_present,
    mean_and_variance,
    stats_from_moments,
    std_floor,
    window_statistics,
)
from .store import project_encoding

IN_MEMORY_SUMS_BYTES = 2**30  # day sums of one variable up to this size stay in memory
BLOCK_BYTES = 2**25  # data read per time block (as stored); its day sums are ~6x that
Load = Callable[[xr.DataArray, str], np.ndarray]


def write_statistics_groups(
    ds: xr.Dataset,
    store: Path,
    load: Load,
    *,
    half_window: int = 15,
    attrs: dict[str, str] | None = None,
    progress: bool = False,
    in_memory_bytes: int = IN_MEMORY_SUMS_BYTES,
) -> None:
    """Write the ``climatology`` (statistic, dayofyear, lat, lon; one chunk per day) and
    ``stats`` groups of ``ds`` (time, [member], lat, lon) into the zarr ``store``.

    ``load(da, where)`` reads a lazy block into numpy (naming ``where`` if it fails);
    ``attrs``: the groups' dataset attributes. Day sums larger than ``in_memory_bytes``
    per variable go to a scratch array beside ``store``.
    """
    for group in ("climatology", "stats"):  # a write killed half-way leaves some arrays
        shutil.rmtree(store / group, ignore_errors=True)
    pooled = [d for d in ("member",) if d in ds.dims]
    lat, lon = ds["lat"], ds["lon"]
    clim_template = xr.Dataset(
        {
            name: (("statistic", "dayofyear", "lat", "lon"), _zeros_like_days(lat, lon))
            for name in ds.data_vars
        },
        coords={"statistic": STATISTICS, "dayofyear": DAYS, "lat": lat, "lon": lon},
        attrs={
            **(attrs or {}),
            "half_window_days": half_window,
            "description": "day-of-year climatology",
        },
    )
    for name, da in ds.data_vars.items():
        clim_template[name].attrs = dict(da.attrs)
    # the coordinates carry the source's storage encoding (a zarr v2 Blosc, say)
    clim_template = project_encoding(clim_template)
    encoding = {name: {"chunks": (2, 1, lat.size, lon.size)} for name in ds.data_vars}
    clim_template.to_zarr(
        store,
        group="climatology",
        mode="a",
        compute=False,
        consolidated=False,
        zarr_format=3,
        encoding=encoding,
    )
    climatology = zarr.open_group(str(store / "climatology"), mode="r+")
    stats = []
    with tempfile.TemporaryDirectory(prefix=".day-sums-", dir=store.parent) as scratch:
        for name, da in ds.data_vars.items():
            da = da.transpose("time", *pooled, "lat", "lon")
            shape = (DAYS.size, MOMENTS.size, lat.size, lon.size)
            if np.prod(shape, dtype=np.int64) * 8 <= in_memory_bytes:
                sums: np.ndarray | zarr.Array = np.zeros(shape)
            else:
                sums = zarr.create_array(
                    str(Path(scratch) / str(name)),
                    shape=shape,
                    chunks=(1, *shape[1:]),
                    dtype=np.float64,
                    fill_value=0.0,
                    compressors=None,
                )
            shift = _shift(da, pooled, load)
            totals = _add_day_sums(da, shift, sums, load, progress)
            variable_stats = _stats(name, shift, totals, lat, lon)
            stats.append(variable_stats)
            floor = float(std_floor(variable_stats.to_dataset())[name])
            floored = _write_windowed(
                sums, shift, totals, floor, half_window, climatology[str(name)], name, progress
            )
            climatology[str(name)].attrs[FLOORED_ATTR] = floored
            if isinstance(sums, zarr.Array):
                shutil.rmtree(Path(scratch) / str(name), ignore_errors=True)
    stats_group = project_encoding(xr.merge(stats).astype(np.float32))
    stats_group.attrs = dict(attrs or {})
    stats_group.to_zarr(store, group="stats", mode="a", consolidated=False, zarr_format=3)


def _zeros_like_days(lat: xr.DataArray, lon: xr.DataArray) -> dask_array.Array:
    """A lazy template of one variable's climatology, one chunk per day (never computed)."""
    shape = (STATISTICS.size, DAYS.size, lat.size, lon.size)
    return dask_array.zeros(
        shape, chunks=(STATISTICS.size, 1, lat.size, lon.size), dtype=np.float32
    )


def _shift(da: xr.DataArray, pooled: list[str], load: Load) -> np.ndarray:
    """The per-point shift of :func:`pipelines.climatology.day_moments`: the first time
    (its member mean), missing values as 0."""
    first = load(da.isel(time=0), "time 0").astype(np.float64)
    if pooled:
        with warnings.catch_warnings():  # a point missing in every member: its shift is 0
            warnings.simplefilter("ignore", RuntimeWarning)
            first = np.nanmean(first, axis=tuple(range(len(pooled))))
    return np.nan_to_num(first, nan=0.0)


def _time_block(da: xr.DataArray) -> int:
    """Times per block: about ``BLOCK_BYTES``, in whole stored (dask) chunks when chunked."""
    per_time = max(1, int(np.prod(da.shape[1:], dtype=np.int64)) * da.dtype.itemsize)
    size = max(1, BLOCK_BYTES // per_time)
    if da.chunks is not None:
        chunk = da.chunks[0][0]
        size = max(chunk, size // chunk * chunk)
    return min(size, da.sizes["time"])


def _add_day_sums(
    da: xr.DataArray,
    shift: np.ndarray,
    sums: np.ndarray | zarr.Array,
    load: Load,
    progress: bool,
) -> np.ndarray:
    """Add each time block's sums per day of year to ``sums`` (day, moment, lat, lon);
    return their totals over all days (moment, lat, lon).

    The sums of the day last touched are held back until another day comes, so data in
    time order write each day of a year once."""
    doy = da["time"].dt.dayofyear.values
    totals = np.zeros(sums.shape[1:])
    pending_day, pending = -1, None
    step = _time_block(da)
    starts = range(0, da.sizes["time"], step)
    for start in tqdm(starts, desc=f"climatology {da.name}", unit="block", disable=not progress):
        block = load(da.isel(time=slice(start, start + step)), f"time {start}")
        days = np.broadcast_to(
            doy[start : start + step].reshape((-1,) + (1,) * (block.ndim - 3)), block.shape[:-2]
        ).reshape(-1)
        present, day_sums = day_sums_present(block.reshape(-1, *block.shape[-2:]), days, shift)
        totals += day_sums.sum(axis=0)
        for day, values in zip(present, day_sums, strict=True):
            if day == pending_day:
                pending += values
                continue
            if pending is not None:
                sums[pending_day - 1] = np.asarray(sums[pending_day - 1]) + pending
            pending_day, pending = int(day), values
    if pending is not None:
        sums[pending_day - 1] = np.asarray(sums[pending_day - 1]) + pending
    return totals


def _stats(
    name: str, shift: np.ndarray, totals: np.ndarray, lat: xr.DataArray, lon: xr.DataArray
) -> xr.DataArray:
    """:func:`~pipelines.climatology.stats_from_moments` of the totals over all days."""
    coords = {"moment": MOMENTS, "dayofyear": [0], "lat": lat, "lon": lon}
    sums = xr.DataArray(totals[:, None], dims=tuple(coords), coords=coords, name=name)
    shift_da = xr.DataArray(shift, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
    moments = DayMoments(shift_da.to_dataset(name=name), sums.to_dataset())
    return stats_from_moments(moments)[name]


def _write_windowed(
    sums: np.ndarray | zarr.Array,
    shift: np.ndarray,
    totals: np.ndarray,
    floor: float,
    half_window: int,
    out: zarr.Array,
    name: str,
    progress: bool,
) -> int:
    """Write each day's mean and std from the circular window sums; the number floored.

    The window sum is carried from day to day: W(d+1) = W(d) + S(d+1+h) - S(d-h). The
    statistics are made for as many days at a time as ``BLOCK_BYTES`` of window sums hold
    (all of them on a coarse grid, one at 0.25 degree): per-day calls would cost more than
    the arithmetic on small grids."""
    n = DAYS.size
    dims = ("moment", "dayofyear", "lat", "lon")
    whole = mean_and_variance(
        xr.DataArray(totals, dims=("moment", "lat", "lon"), coords={"moment": MOMENTS})
    )
    shift_da = xr.DataArray(shift, dims=("lat", "lon"))
    window = sum(np.asarray(sums[k % n]) for k in range(-half_window, half_window + 1))
    days_per_block = max(1, BLOCK_BYTES // window.nbytes)
    pending: list[np.ndarray] = []  # window sums of the days not yet written
    floored = 0
    for day in tqdm(range(n), desc=f"climatology {name} by day", unit="day", disable=not progress):
        pending.append(window)
        if len(pending) == days_per_block or day == n - 1:
            moments = xr.DataArray(np.stack(pending, axis=1), dims=dims, coords={"moment": MOMENTS})
            mean, std = window_statistics(moments, whole, shift_da, floor)
            mean, std = (x.transpose(*dims[1:]).values.astype(np.float32) for x in (mean, std))
            floored += int((std <= np.float32(floor)).sum())
            out[:, day + 1 - len(pending) : day + 1] = np.stack([mean, std])
            pending = []
        if day + 1 < n:
            entering = np.asarray(sums[(day + 1 + half_window) % n])
            window = window + entering - np.asarray(sums[(day - half_window) % n])
    return floored
