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
        summed = values.groupby(doy).sum(["time", *pooled], skipna=True)
        present = summed["dayofyear"].values
        summed = summed.chunk({"dayofyear": -1})
        out = xr.apply_ufunc(
            _circular_window_sum,
            summed,
            kwargs={"days": present, "half_window": half_window},
            input_core_dims=[["dayofyear"]],
            output_core_dims=[["day"]],
            dask="parallelized",
            dask_gufunc_kwargs={"output_sizes": {"day": DAYS.size}},
            output_dtypes=[np.float64],
        )
        return out.rename(day="dayofyear").assign_coords(dayofyear=DAYS)

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


def _circular_window_sum(values: np.ndarray, days: np.ndarray, half_window: int) -> np.ndarray:
    """Sum over a circular window of +-half_window days; ``values[..., i]`` is for day ``days[i]``."""
    full = np.zeros((*values.shape[:-1], DAYS.size), dtype=np.float64)
    full[..., np.asarray(days) - 1] = values
    padded = (
        np.concatenate([full[..., -half_window:], full, full[..., :half_window]], axis=-1)
        if half_window
        else full
    )
    cumulative = np.concatenate(
        [np.zeros((*full.shape[:-1], 1)), np.cumsum(padded, axis=-1)], axis=-1
    )
    window = 2 * half_window + 1
    return cumulative[..., window:] - cumulative[..., :-window]


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
