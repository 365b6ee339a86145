"""Day-of-year climatology, normalisation statistics and standardised anomalies.

The climatology of a variable x at day of year d is the mean and standard deviation
of all values within a circular window of ``2 * half_window + 1`` days around d,
pooled over years (and members, for an ensemble reanalysis)::

    mu(d)    = S1(d) / N(d),             S1 = sum of x over the window
    sigma(d) = sqrt(S2(d) / N(d) - mu(d)^2),  S2 = sum of x^2 over the window

Smoothing the raw moments (not the daily means) weights every sample equally.
Where a record is too short for a day's window to hold any data, the statistics
of the whole record are used instead, so a few days of data still give a usable
(flat) climatology.
"""

from __future__ import annotations

import dask.array as dask_array
import numpy as np
import xarray as xr

from .grid import cell_area_weights

DAYS = np.arange(1, 367)
# Object dtype: stored as a variable-length string, which zarr v3 specifies.
STATISTICS = np.array(["mean", "std"], dtype=object)


def daily_climatology(ds: xr.Dataset, half_window: int = 15) -> xr.Dataset:
    """Day-of-year mean and standard deviation: dims (statistic, dayofyear, lat, lon).

    Lazy on dask. Values are centred on each point's all-time mean before squaring,
    which keeps float precision for fields with large means such as geopotential.
    """
    pooled = [d for d in ("member",) if d in ds.dims]
    x = ds.astype(np.float64)
    overall_mean = x.mean(["time", *pooled])
    centred = x - overall_mean
    doy = centred["time"].dt.dayofyear.rename("dayofyear")

    def moments(values: xr.Dataset) -> xr.Dataset:
        pooled_values = values.sum(pooled, skipna=True) if pooled else values
        return pooled_values.map(lambda da: _smoothed_day_sums(da, doy.values, half_window))

    count = moments(centred.notnull().astype(np.float64))
    s1 = moments(centred)
    s2 = moments(centred**2)
    denominator = count.where(count > 0)
    mean_anomaly = s1 / denominator
    variance = (s2 / denominator - mean_anomaly**2).clip(min=0.0)
    whole_mean = centred.mean(["time", *pooled])
    whole_var = centred.var(["time", *pooled])
    has_data = count > 0
    mean = overall_mean + mean_anomaly.where(has_data, whole_mean)
    std = np.sqrt(variance.where(has_data, whole_var))
    clim = xr.concat([mean, std], dim=xr.DataArray(STATISTICS, dims="statistic", name="statistic"))
    clim = clim.astype(np.float32).transpose("statistic", "dayofyear", "lat", "lon")
    for name in clim.data_vars:
        clim[name].attrs = dict(ds[name].attrs)
    clim.attrs = {"half_window_days": half_window, "description": "day-of-year climatology"}
    return clim


def _smoothed_day_sums(da: xr.DataArray, doy: np.ndarray, half_window: int) -> xr.DataArray:
    """Sums of ``da`` (time, ...) per day of year, then over the circular window: (dayofyear, ...)."""
    da = da.transpose("time", ...)
    data = (
        da.data
        if isinstance(da.data, dask_array.Array)
        else dask_array.from_array(da.data, chunks=(-1,))
    )
    # Each time block yields a (366, ...) array of sums: small time blocks (one GRIB message
    # per chunk) would multiply that output hundreds of times, so merge them up to ~256 MB.
    per_step = int(np.prod(data.shape[1:], dtype=np.int64)) * 8
    target = max(1, min(data.shape[0], 2**28 // max(per_step, 1)))
    if max(data.chunks[0]) < target:
        data = data.rechunk({0: target})
    doy_chunks = dask_array.from_array(doy, chunks=(data.chunks[0],))
    n_blocks = data.numblocks[0]
    per_block = dask_array.map_blocks(
        _day_sums_of_block,
        data,
        doy_chunks[(slice(None),) + (None,) * (data.ndim - 1)],
        dtype=np.float64,
        chunks=((DAYS.size,) * n_blocks, *data.chunks[1:]),
    )
    summed = per_block.reshape((n_blocks, DAYS.size, *data.shape[1:]), merge_chunks=False).sum(
        axis=0
    )
    smoothed = summed.map_blocks(_circular_window_sum, half_window=half_window, dtype=np.float64)
    dims = ("dayofyear", *da.dims[1:])
    coords = {d: da[d] for d in da.dims[1:] if d in da.coords}
    return xr.DataArray(smoothed, dims=dims, coords={"dayofyear": DAYS, **coords}, name=da.name)


def _day_sums_of_block(block: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """(366, ...) sums of one time block by day of year, in O(n) with a sorted segment sum."""
    days = doy.reshape(-1)
    out = np.zeros((DAYS.size, *block.shape[1:]), dtype=np.float64)
    if days.size == 0:
        return out
    order = np.argsort(days, kind="stable")
    sorted_days = days[order]
    starts = np.flatnonzero(np.r_[True, sorted_days[1:] != sorted_days[:-1]])
    out[sorted_days[starts] - 1] = np.add.reduceat(block[order].astype(np.float64), starts, axis=0)
    return out


def _circular_window_sum(sums: np.ndarray, half_window: int) -> np.ndarray:
    """Sum over a circular window of +-half_window days along the first axis (366 days)."""
    if half_window == 0:
        return sums
    padded = np.concatenate([sums[-half_window:], sums, sums[:half_window]], axis=0)
    cumulative = np.concatenate([np.zeros((1, *sums.shape[1:])), np.cumsum(padded, axis=0)], axis=0)
    window = 2 * half_window + 1
    return cumulative[window:] - cumulative[:-window]


def normalisation_stats(ds: xr.Dataset) -> xr.Dataset:
    """Area-weighted mean and standard deviation of each variable over everything: dims (statistic,)."""
    weights = cell_area_weights(ds["lat"])
    dims = list(ds.dims)
    weighted = ds.astype(np.float64).weighted(weights)
    stats = xr.concat(
        [weighted.mean(dims), weighted.std(dims)],
        dim=xr.DataArray(STATISTICS, dims="statistic", name="statistic"),
    )
    return stats.astype(np.float32)


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
