"""Align ensemble forecasts with the reanalysis at valid time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from .errors import DataError
from .regrid import regrid_conservative


def valid_time(forecast: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """Valid time ``init_time + lead_time`` as a 2-D (init_time, lead_time) array."""
    return forecast["init_time"] + forecast["lead_time"]


def truth_at_valid_time(
    forecast: xr.Dataset, reanalysis: xr.Dataset, *, source: str = "reanalysis"
) -> xr.Dataset:
    """The reanalysis at each forecast's valid time: dims (init_time, lead_time, lat, lon).

    The two must share variables and grid (regrid first). A reanalysis with a
    ``member`` dimension (an ensemble of data assimilations) is reduced to its
    member mean, the best estimate of the truth. Lazy on dask.
    """
    missing_vars = [v for v in forecast.data_vars if v not in reanalysis.data_vars]
    if missing_vars:
        raise DataError(f"has no {missing_vars} to verify the forecast against", source)
    for name in ("lat", "lon"):
        if forecast.sizes[name] != reanalysis.sizes[name] or not np.allclose(
            forecast[name].values, reanalysis[name].values
        ):
            raise DataError(
                f"forecast and reanalysis are on different grids ({name}: {forecast.sizes[name]} vs "
                f"{reanalysis.sizes[name]} points); set 'grid' in the catalog or --grid",
                source,
            )
    valid = valid_time(forecast)
    wanted = np.unique(valid.values.ravel())
    have = reanalysis.indexes["time"]
    absent = wanted[~np.isin(wanted, have.values)]
    if absent.size:
        raise DataError(
            f"{absent.size} of {wanted.size} forecast valid times are not reanalysis times "
            f"(first: {np.datetime_as_string(absent[0], unit='h')}); lead times must land on "
            "reanalysis times within its period",
            source,
        )
    truth = reanalysis[list(forecast.data_vars)]
    if "member" in truth.dims:
        truth = truth.mean("member", keep_attrs=True)
    truth = truth.sel(time=valid).drop_vars("time")
    return truth.transpose("init_time", "lead_time", "lat", "lon")


def truth_on_forecast_grid(
    forecast: xr.Dataset,
    reanalysis: xr.Dataset,
    *,
    source: str = "reanalysis",
    target: str = "the forecast's grid",
    every_variable: bool = True,
    notice: Callable[[str], None] | None = None,
) -> tuple[xr.Dataset, xr.Dataset]:
    """The reanalysis regridded onto the forecast's grid (conservatively), and from it the
    truth at each forecast valid time (:func:`truth_at_valid_time`).

    Returns ``(truth, reanalysis on the grid)``, both restricted to the forecast's
    variables. ``every_variable``: refuse a reanalysis lacking one of them; otherwise keep
    the shared ones (and refuse only if there are none). ``notice``: told in one line
    when the reanalysis is regridded.
    """
    on_grid = regrid_conservative(
        reanalysis, forecast["lat"].values, forecast["lon"].values, target, notice=notice
    )
    names = [v for v in forecast.data_vars if every_variable or v in on_grid.data_vars]
    if not names:
        raise DataError(
            f"shares no variable with the forecast ({list(forecast.data_vars)})", source
        )
    truth = truth_at_valid_time(forecast[names], on_grid, source=source)
    return truth, on_grid[names]
