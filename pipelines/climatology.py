"""Day-of-year climatology, normalisation statistics and standardised anomalies.

The climatology of a variable x at day of year d is the mean and standard deviation
of all values within a circular window of ``2 * half_window + 1`` days around d,
pooled over years (and members, for an ensemble reanalysis)::

    mu(d)    = c + S1(d) / N(d),               S1 = sum of x - c over the window
    sigma(d) = sqrt(S2(d) / N(d) - (S1/N)^2),  S2 = sum of (x - c)^2 over the window

with a per-point shift c (a value of the data) for precision. Smoothing the raw moments
(not the daily means) weights every sample equally. The normalisation statistics come
from the same sums, so one pass over the data gives both.
Where a record is too short for a day's window to hold ``MIN_WINDOW_SAMPLES`` values, the
statistics of the whole record are used instead, so a few days of data still give a usable
(flat) climatology.
"""

from __future__ import annotations

from typing import NamedTuple

import dask.array as dask_array
import numpy as np
import xarray as xr

from .grid import cell_area_weights
from .transforms import transform_of

DAYS = np.arange(1, 367)
MIN_WINDOW_SAMPLES = 10  # fewer values in a day's window give no usable spread
STD_FLOOR = 1e-3  # of the variable's overall standard deviation
SKEWED_STD_FLOOR = 0.5  # of a transformed variable's (in its model space)
FLOORED_ATTR = "std_floored_points"  # per variable: day-points raised to the floor
# Object dtype: stored as a variable-length string, which zarr v3 specifies.
STATISTICS = np.array(["mean", "std"], dtype=object)
MOMENTS = np.array(["count", "sum", "sum_squares"], dtype=object)
Fields = xr.Dataset | xr.DataArray  # every variable's fields, or one's


class DayMoments(NamedTuple):
    """Sums per day of year of ``x - shift``, pooled over time (and members).

    ``sums``: dims (moment, dayofyear, lat, lon) with moments count, sum and sum of
    squares, float64; ``shift``: (lat, lon), a value of the data near each point's typical
    size, subtracted before squaring so that fields with large means such as geopotential
    keep their precision (the shifted-data variance algorithm). Both lazy on dask; the
    climatology and the normalisation statistics are derived from them, so the data are
    read once for both.
    """

    shift: xr.Dataset
    sums: xr.Dataset


def day_moments(ds: xr.Dataset) -> DayMoments:
    """:class:`DayMoments` of ``ds`` (time, [member], lat, lon): one pass over the data."""
    pooled = [d for d in ("member",) if d in ds.dims]
    first = ds.isel(time=0).astype(np.float64)
    shift = (first.mean(pooled, skipna=True) if pooled else first).fillna(0.0)
    doy = ds["time"].dt.dayofyear.values
    sums = ds.map(lambda da: _day_sums(da, shift[da.name], doy, pooled))
    return DayMoments(shift.drop_vars("time", errors="ignore"), sums)


def climatology_from_moments(
    moments: DayMoments,
    half_window: int = 15,
    attrs: dict[str, dict] | None = None,
    stats: xr.Dataset | None = None,
) -> xr.Dataset:
    """Day-of-year mean and standard deviation: dims (statistic, dayofyear, lat, lon).

    Raw moments (not daily means) are summed over the circular window, so every sample
    weighs the same; days whose window holds fewer than ``MIN_WINDOW_SAMPLES`` values take
    the whole record's statistics (one value has no spread, and a few, at the edge of a
    record, a spread that means little). A standard deviation below
    :func:`std_floor` (a point whose values never change) is raised to it, so that
    standardised anomalies stay finite. ``stats``: :func:`stats_from_moments` of the same
    moments, when the caller has it already.
    """
    smoothed = moments.sums.map(lambda da: da.copy(data=_window_sums(da, half_window)))
    whole = mean_and_variance(moments.sums.sum("dayofyear"))
    floor = std_floor(stats if stats is not None else stats_from_moments(moments))
    mean, std = window_statistics(smoothed, whole, moments.shift, floor)
    clim = xr.concat([mean, std], dim=xr.DataArray(STATISTICS, dims="statistic", name="statistic"))
    clim = clim.astype(np.float32).transpose("statistic", "dayofyear", "lat", "lon")
    for name in clim.data_vars:
        clim[name].attrs = dict((attrs or {}).get(name, {}))
    clim.attrs = {"half_window_days": half_window, "description": "day-of-year climatology"}
    return clim


def window_statistics(
    window: Fields, whole: tuple[Fields, Fields], shift: Fields, floor: xr.Dataset | float
) -> tuple[Fields, Fields]:
    """Mean and standard deviation from window sums (moment, ...) of ``x - shift``: where
    the window holds fewer than ``MIN_WINDOW_SAMPLES`` values, the whole record's
    (``whole``: :func:`mean_and_variance` of its totals); the std at least ``floor``."""
    mean_shifted, variance = mean_and_variance(window)
    has_data = window.sel(moment="count", drop=True) >= MIN_WINDOW_SAMPLES
    mean = shift + mean_shifted.where(has_data, whole[0])
    std = np.sqrt(variance.where(has_data, whole[1]))
    return mean, std.where(std.isnull() | (std >= floor), floor)


def std_floor(stats: xr.Dataset) -> xr.Dataset:
    """The smallest climatological standard deviation kept: ``STD_FLOOR`` times the
    variable's overall one (from :func:`stats_from_moments`), as float32; for a variable
    modelled in a transformed space (precipitation) ``SKEWED_STD_FLOOR`` times it, since
    where it is almost never wet its standard deviation there is almost zero and one
    shower would be an anomaly of thousands."""
    overall = stats.sel(statistic="std", drop=True)
    floors = {
        name: (SKEWED_STD_FLOOR if transform_of(str(name)) else STD_FLOOR) * da
        for name, da in overall.data_vars.items()
    }
    return xr.Dataset(floors).astype(np.float32)


def stats_from_moments(moments: DayMoments) -> xr.Dataset:
    """Area-weighted mean and standard deviation of each variable over everything: dims (statistic,).

    With per-point totals N, S1, S2 of ``x - c`` (``c`` the shift) and cell weights w::

        m = sum w (c N + S1) / sum w N
        s^2 = sum w (S2 + 2 (c - m) S1 + (c - m)^2 N) / sum w N
    """
    totals = moments.sums.sum("dayofyear")
    count, first, second = (totals.sel(moment=m, drop=True) for m in MOMENTS)
    weights = cell_area_weights(totals["lat"]) * xr.ones_like(count)
    weight = (weights * count).sum(["lat", "lon"])
    mean = (weights * (moments.shift * count + first)).sum(["lat", "lon"]) / weight
    offset = moments.shift - mean
    spread = weights * (second + 2 * offset * first + offset**2 * count)
    std = np.sqrt(spread.sum(["lat", "lon"]) / weight)
    stats = xr.concat([mean, std], dim=xr.DataArray(STATISTICS, dims="statistic", name="statistic"))
    return stats.astype(np.float32)


def statistics_groups(ds: xr.Dataset, half_window: int = 15) -> dict[str, xr.Dataset]:
    """The ``climatology`` and ``stats`` groups of a prepared store, lazy, sharing one pass."""
    moments = day_moments(ds)
    attrs = {name: dict(da.attrs) for name, da in ds.data_vars.items()}
    stats = stats_from_moments(moments)
    return {
        "climatology": climatology_from_moments(moments, half_window, attrs, stats),
        "stats": stats,
    }


def daily_climatology(ds: xr.Dataset, half_window: int = 15) -> xr.Dataset:
    """Day-of-year climatology of ``ds`` (see :func:`climatology_from_moments`); lazy on dask."""
    return statistics_groups(ds, half_window)["climatology"]


def normalisation_stats(ds: xr.Dataset) -> xr.Dataset:
    """Area-weighted mean and std of each variable (see :func:`stats_from_moments`); lazy."""
    return statistics_groups(ds)["stats"]


def mean_and_variance(sums: Fields) -> tuple[Fields, Fields]:
    """Mean and variance of ``x - shift`` from its count, sum and sum of squares (moment, ...);
    NaN where the count is 0."""
    count = sums.sel(moment="count", drop=True)
    denominator = count.where(count > 0)
    mean = sums.sel(moment="sum", drop=True) / denominator
    variance = (sums.sel(moment="sum_squares", drop=True) / denominator - mean**2).clip(min=0.0)
    return mean, variance


def _day_sums(
    da: xr.DataArray, shift: xr.DataArray, doy: np.ndarray, pooled: list[str]
) -> xr.DataArray:
    """Count, sum and sum of squares of ``da - shift`` per day of year: (moment, dayofyear, lat, lon)."""
    da = da.transpose("time", *pooled, "lat", "lon")
    data = (
        da.data
        if isinstance(da.data, dask_array.Array)
        else dask_array.from_array(da.data, chunks=-1)
    )
    # Each time block yields a (3 x 366, lat, lon) array of sums: small time blocks (one
    # GRIB message per chunk) would multiply that output hundreds of times, so merge them
    # up to ~256 MB.
    per_step = int(np.prod(data.shape[1:], dtype=np.int64)) * 8
    target = max(1, min(data.shape[0], 2**28 // max(per_step, 1)))
    if max(data.chunks[0]) < target:
        data = data.rechunk({0: target})
    days = np.broadcast_to(doy.reshape((-1,) + (1,) * len(pooled)), data.shape[: 1 + len(pooled)])
    if pooled:  # members are more samples of the same day: (time x member, lat, lon)
        data = data.rechunk({i: -1 for i in range(1, 1 + len(pooled))})
        data = data.reshape((-1, *data.shape[-2:]), merge_chunks=False)
        days = days.reshape(-1)
    day_chunks = dask_array.from_array(days, chunks=(data.chunks[0],))[:, None, None]
    shift_data = shift.transpose("lat", "lon").data
    if not isinstance(shift_data, dask_array.Array):
        shift_data = dask_array.from_array(shift_data)
    shift_chunks = shift_data[None].rechunk(((1,), *data.chunks[1:]))
    n_blocks = data.numblocks[0]
    per_block = dask_array.map_blocks(
        _day_sums_of_block,
        data,
        day_chunks,
        shift_chunks,
        dtype=np.float64,
        chunks=((MOMENTS.size * DAYS.size,) * n_blocks, *data.chunks[1:]),
    )
    summed = per_block.reshape(
        (n_blocks, MOMENTS.size, DAYS.size, *data.shape[1:]), merge_chunks=False
    ).sum(axis=0)
    coords = {"moment": MOMENTS, "dayofyear": DAYS, "lat": da["lat"], "lon": da["lon"]}
    return xr.DataArray(summed, dims=tuple(coords), coords=coords, name=da.name)


def _day_sums_of_block(block: np.ndarray, doy: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """(3 x 366, ...) count, sum, sum of squares of ``block - shift`` by day of year."""
    out = np.zeros((DAYS.size, MOMENTS.size, *block.shape[1:]), dtype=np.float64)
    present, sums = day_sums_present(block, doy.reshape(-1), shift)
    out[present - 1] = sums
    return np.moveaxis(out, 0, 1).reshape((MOMENTS.size * DAYS.size, *block.shape[1:]))


def day_sums_present(
    block: np.ndarray, days: np.ndarray, shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The days of year present in ``days`` (one per leading row of ``block``), ascending,
    and the count, sum and sum of squares of ``block - shift`` on each: (day, moment, ...).

    O(n) with a sorted segment sum; missing values count as nothing.
    """
    if not days.size:
        return np.zeros(0, dtype=int), np.zeros((0, MOMENTS.size, *block.shape[1:]))
    values = block.astype(np.float64)
    values -= shift
    if np.any(days[1:] < days[:-1]):  # times in order (the usual case) need no sort
        order = np.argsort(days, kind="stable")
        days, values = days[order], values[order]
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    out = np.empty((starts.size, MOMENTS.size, *block.shape[1:]), dtype=np.float64)
    valid = ~np.isnan(values)
    if valid.all():
        out[:, 0] = np.diff(np.r_[starts, days.size]).reshape((-1,) + (1,) * (block.ndim - 1))
    else:
        np.copyto(values, 0.0, where=~valid)
        out[:, 0] = np.add.reduceat(valid.astype(np.float64), starts, axis=0)
    out[:, 1] = np.add.reduceat(values, starts, axis=0)
    np.multiply(values, values, out=values)
    out[:, 2] = np.add.reduceat(values, starts, axis=0)
    return days[starts], out


def _window_sums(da: xr.DataArray, half_window: int) -> np.ndarray | dask_array.Array:
    """:func:`_circular_window_sum` of ``da`` along dayofyear, blockwise if on dask."""
    axis = da.get_axis_num("dayofyear")
    if not isinstance(da.data, dask_array.Array):
        return _circular_window_sum(da.values, half_window, axis)
    return da.data.rechunk({axis: -1}).map_blocks(
        _circular_window_sum, half_window=half_window, axis=axis, dtype=np.float64
    )


def _circular_window_sum(sums: np.ndarray, half_window: int, axis: int = 0) -> np.ndarray:
    """Sum over a circular window of +-half_window days along ``axis`` (366 days)."""
    if half_window == 0:
        return sums
    sums = np.moveaxis(sums, axis, 0)
    padded = np.concatenate([sums[-half_window:], sums, sums[:half_window]], axis=0)
    cumulative = np.concatenate([np.zeros((1, *sums.shape[1:])), np.cumsum(padded, axis=0)], axis=0)
    window = 2 * half_window + 1
    return np.moveaxis(cumulative[window:] - cumulative[:-window], 0, axis)


def climatology_at(clim: xr.Dataset, times: xr.DataArray) -> xr.Dataset:
    """Climatology (statistic, ..., lat, lon) at the day of year of each time in ``times``."""
    return clim.sel(dayofyear=times.dt.dayofyear).drop_vars("dayofyear")


def to_anomaly(ds: xr.Dataset, clim_at: xr.Dataset) -> xr.Dataset:
    """Standardised anomaly (x - mu) / sigma with the climatology at the same times."""
    return (ds - clim_at.sel(statistic="mean", drop=True)) / clim_at.sel(statistic="std", drop=True)


def from_anomaly(anomaly: xr.Dataset, clim_at: xr.Dataset) -> xr.Dataset:
    """Inverse of :func:`to_anomaly`: x = mu + sigma * anomaly."""
    return (
        clim_at.sel(statistic="mean", drop=True) + clim_at.sel(statistic="std", drop=True) * anomaly
    )
