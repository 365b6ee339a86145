"""Time-lagged ensembles: members that start on their own dates, grouped by valid time.

Monthly and seasonal systems (UK Met Office GloSea, NCEP CFS) start a few members every day;
the ensemble of a date t is the members started in the lag window [t - W, t]. A member
started at s = t - d (lag d) verifies at t + L after a step of L + d, so the lagged
ensemble at nominal init time t and lead time L is::

    x(t, L, m) = x_source(start s_m, member n_m, step L + d_m),  d_m = t - s_m <= W

Decoders open such files as a mostly empty (member x start date x step) cube; only the
(start, member) cells that hold data become members. The nominal init times are the start
dates with a whole window of record before them; the lead times are the steps every lag
reaches. Members are ordered by lag, freshest first, so the first K (the seeds of
generation) are the most recent forecasts. Where windows hold different numbers of
members, every init time keeps as many as the smallest holds, dropping the oldest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .errors import DataError

LAG_ATTR = "lag_window"


def cube_of_starts(ds: xr.Dataset, source: str) -> xr.Dataset:
    """Members that each carry their own start date (files of one start each, combined:
    ``init_time`` a coordinate along ``member``) as the mostly empty (init_time, member)
    cube that :func:`group_lagged` takes; absent cells are missing values (lazy)."""
    starts = ds["init_time"]
    if starts.dims != ("member",):
        raise DataError(
            f"its init times vary along {list(starts.dims)}; a lagged ensemble needs them "
            "along the members only",
            source,
        )
    cube = ds.drop_vars("init_time").expand_dims(init_time=np.unique(starts.values))
    return cube.where(starts.drop_vars("init_time", errors="ignore") == cube["init_time"])


def started_cells(ds: xr.Dataset) -> np.ndarray:
    """(init_time, member) booleans: the cells with a value at their first step (one field
    of the first variable read per cell)."""
    first = ds[next(iter(ds.data_vars))].isel(lead_time=0)
    empty = first.isnull().all(["lat", "lon"]).transpose("init_time", "member")
    return ~empty.values


def group_lagged(ds: xr.Dataset, window: pd.Timedelta, source: str) -> xr.Dataset:
    """The lagged ensemble of ``ds`` (init_time, lead_time, member, lat, lon; members each
    on their own start dates) for a lag window ``window`` (see the module docstring); lazy."""
    present = started_cells(ds)
    starts = pd.DatetimeIndex(ds["init_time"].values)
    used = starts[present.any(axis=1)]
    if used.size == 0:
        raise DataError("no member has any value at its first step", source)
    spacing = pd.Series(used).diff().min() if used.size > 1 else None
    if spacing is None or window < spacing:
        apart = f"{_duration(spacing)} apart at least" if spacing is not None else "one date"
        raise DataError(
            f"the lag window {_duration(window)} groups nothing: the members' start dates are {apart}, "
            "so every window holds one start date; give a window of at least the spacing",
            source,
        )
    nominal = [t for t in used if t - window >= used[0]]
    if not nominal:
        raise DataError(
            f"no start date has a whole lag window of {_duration(window)} before it: the "
            f"members start from {_date(used[0])} to {_date(used[-1])}",
            source,
        )
    groups = []  # per nominal init: [(start index, member index, lag)], freshest first
    for t in nominal:
        cells = [
            (i, m, t - starts[i])
            for i in np.flatnonzero((starts <= t) & (starts >= t - window))
            for m in np.flatnonzero(present[i])
        ]
        groups.append(sorted(cells, key=lambda cell: (cell[2], cell[0], cell[1])))
    n_members = min(len(cells) for cells in groups)
    lags = {cell[2] for cells in groups for cell in cells[:n_members]}
    steps = pd.TimedeltaIndex(ds["lead_time"].values)
    leads = [
        lead for lead in steps if lead >= pd.Timedelta(0) and all(lead + d in steps for d in lags)
    ]
    if not leads:
        raise DataError(
            f"no lead time is reached by every lag up to {_duration(max(lags))}: the steps "
            f"run to {_duration(steps.max())}; give a shorter lag window",
            source,
        )
    members = []
    for cells in groups:
        pieces = [
            ds.isel(init_time=i, member=m)
            .sel(lead_time=[lead + d for lead in leads])
            .assign_coords(lead_time=leads)
            .drop_vars(["init_time", "member"])
            for i, m, d in cells[:n_members]
        ]
        members.append(xr.concat(pieces, dim="member", coords="minimal", compat="override"))
    lagged = xr.concat(members, dim="init_time", coords="minimal", compat="override")
    lagged = lagged.assign_coords(
        init_time=pd.DatetimeIndex(nominal).values, member=np.arange(n_members)
    )
    lagged.attrs = {**ds.attrs, LAG_ATTR: str(window)}
    return lagged.transpose("init_time", "lead_time", "member", ...)


def _duration(delta: pd.Timedelta) -> str:
    """``2D``, ``36h``, ``90min``: as a catalog writes it."""
    minutes = delta / pd.Timedelta(minutes=1)
    if minutes % (24 * 60) == 0:
        return f"{minutes / (24 * 60):g}D"
    return f"{minutes / 60:g}h" if minutes % 60 == 0 else f"{minutes:g}min"


def _date(time: pd.Timestamp) -> str:
    return np.datetime_as_string(np.datetime64(time, "m"), unit="m")
