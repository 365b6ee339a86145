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
from pipelines.transforms import climatological_value, from_model_space, to_model_space


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
    A variable whose climatology is in model space (precipitation) gets the members mapped
    back: the quantiles of its censored, skewed climatological distribution.
    """
    stats = climatology_at(climatology[list(truth.data_vars)], valid_time(truth))
    quantiles = xr.DataArray(
        norm.ppf((np.arange(members) + 0.5) / members), dims="member", name="member"
    ).assign_coords(member=np.arange(members))
    ensemble = xr.Dataset(
        {name: climatological_value(stats[name], quantiles) for name in stats.data_vars}
    )
    return ensemble.transpose("init_time", "lead_time", "member", "lat", "lon")


def seed_oracle(
    physics: xr.Dataset, n_seeds: int, climatology: xr.Dataset | None = None
) -> xr.Dataset:
    """The best ensemble any emulator given ``n_seeds`` members of ``physics`` can aim for.

    The oracle knows the physics ensemble's spread ``s^2`` at every point and its shape, but
    its centre ``mu`` only through the mean ``xbar`` of the first K members, with the
    day-of-year climatology N(m, C) as prior. Since a member varies as ``C = Var(mu) + s^2``,
    the prior on ``mu`` is N(m, P) with ``P = max(C - s^2, 0)``, and Bayes gives

        mu_hat = (P xbar + (s^2 / K) m) / (P + s^2 / K),   v = P (s^2 / K) / (P + s^2 / K),

    so the predictive distribution has mean ``mu_hat`` and variance ``s^2 + v``. Its members
    are the physics members recentred on ``mu_hat`` and widened by ``sqrt(1 + v / s^2)``:
    the same count and shape as the physics ensemble. Where spread is small against
    climatology the CRPS cost of knowing only K members is ``sqrt(1 + 1/K)`` (1.22 for
    K = 2), for Gaussian members; as spread saturates it falls to 1. Precipitation is
    recentred in its model space (:mod:`pipelines.transforms`), where its climatology is,
    and mapped back: its members stay non-negative.
    """
    if not 1 <= n_seeds <= physics.sizes["member"]:
        raise ValueError(f"seeds must be between 1 and {physics.sizes['member']}, got {n_seeds}")
    units = physics
    physics = to_model_space(physics)
    spread_var = physics.var("member", ddof=1)
    seed_mean = physics.isel(member=slice(0, n_seeds)).mean("member")
    noise_var = spread_var / n_seeds
    if climatology is None:  # a flat prior: the centre is the seed mean
        weight, centre = 1.0, seed_mean
    else:
        stats = climatology_at(climatology[list(physics.data_vars)], valid_time(physics))
        prior_var = np.maximum(stats.sel(statistic="std", drop=True) ** 2 - spread_var, 0.0)
        total = prior_var + noise_var
        weight = xr.where(total > 0, prior_var / total.where(total > 0), 1.0)
        centre = weight * seed_mean + (1 - weight) * stats.sel(statistic="mean", drop=True)
    widen = np.sqrt(1 + weight * noise_var / spread_var.where(spread_var > 0))
    members = centre + widen.fillna(1.0) * (physics - physics.mean("member"))
    oracle = xr.Dataset(
        {
            name: members[name].transpose(*field.dims).astype(field.dtype)
            for name, field in physics.items()
        },
        attrs={"seed_oracle": n_seeds},
    )
    oracle = from_model_space(oracle)
    for name in oracle.data_vars:
        oracle[name].attrs = units[name].attrs
    return oracle
