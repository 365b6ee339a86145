"""Reference ensembles every generated ensemble is compared with: the seeds alone, the
full physics ensemble, and climatology."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from scipy.stats import norm

from pipelines.align import valid_time
from pipelines.climatology import climatology_at
from pipelines.store import open_complete


def held_out(
    store: str | Path, inits: list[int], leads: np.ndarray
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """(physics ensemble, truth at valid time, climatology) of a prepared forecast store at
    the chosen init-time indices and lead times: what generated ensembles are scored against."""
    physics = open_complete(store).isel(init_time=inits).sel(lead_time=leads)
    truth = open_complete(store, "truth").isel(init_time=inits).sel(lead_time=leads)
    return physics, truth, open_complete(store, "climatology")


def climatological_ensemble(
    truth: xr.Dataset, climatology: xr.Dataset, members: int = 31
) -> xr.Dataset:
    """Members mu + sigma z_i at the day of year of each valid time, z_i = Phi^-1((i + 1/2) / M).

    The equally spaced normal quantiles make the members a deterministic sample of the
    Gaussian day-of-year climatology N(mu, sigma^2): the no-skill reference of the report.
    """
    stats = climatology_at(climatology[list(truth.data_vars)], valid_time(truth))
    quantiles = xr.DataArray(
        norm.ppf((np.arange(members) + 0.5) / members), dims="member", name="member"
    ).assign_coords(member=np.arange(members))
    ensemble = stats.sel(statistic="mean", drop=True) + quantiles * stats.sel(
        statistic="std", drop=True
    )
    return ensemble.transpose("init_time", "lead_time", "member", "lat", "lon")
