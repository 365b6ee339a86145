"""Multivariate ensemble scores: the energy score and the variogram score.

CRPS scores every grid point alone; an ensemble can have perfect marginals and wrong
spatial or cross-variable structure. These two see the fields whole (Gneiting et al.
2008, Test 13: the energy score; Scheuerer and Hamill 2015, Mon. Wea. Rev. 143, 1321:
the variogram score). For members x_m (m = 1..M) and truth y in R^D:

    ES = 1/M sum_m ||x_m - y|| - 1/(2 M (M - 1)) sum_m sum_j ||x_m - x_j||     (fair)

with 1/(2 M^2) instead for the standard estimator of the empirical distribution (the
fair one is unbiased for the ES of the distribution the members are drawn from;
Ferro 2014), and

    VS_p = sum_i sum_j w_ij (|y_i - y_j|^p - 1/M sum_m |x_mi - x_mj|^p)^2.

On a grid the norm weighs each point by its cell area: ||v||^2 = sum_d a_d v_d^2 with
the areas a_d normalised to mean 1 (so that a regular grid of equal cells gives the plain
norm), and the variogram pairs by a_i a_j. The variogram score costs D^2 per member
and case: score regions (a 10 x 10-point box is 10^4 pairs), not global fine grids.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .kernels import ESTIMATORS
from .regions import Region, area_weights

MEMBER = "member"


def energy_score_kernel(
    members: np.ndarray, obs: np.ndarray, estimator: str = "fair"
) -> np.ndarray:
    """Energy score of ``members`` (..., M, D) against ``obs`` (..., D) -> (...).

    A component where the truth or any member is missing is left out of every norm of
    that case (a land mask drops the same points from all members); a case with no
    component left is NaN.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    members, obs = np.asarray(members, float), np.asarray(obs, float)
    n_members = members.shape[-2]
    valid = ~(np.isnan(obs) | np.isnan(members).any(axis=-2))
    members = np.where(valid[..., None, :], members, 0.0)
    obs = np.where(valid, obs, 0.0)
    skill = np.sqrt(((members - obs[..., None, :]) ** 2).sum(-1)).mean(-1)
    spread = np.zeros(skill.shape)
    for m in range(n_members):  # one member against all: M x D memory, not M^2 x D
        spread += np.sqrt(((members - members[..., m : m + 1, :]) ** 2).sum(-1)).sum(-1)
    pairs = n_members * (n_members - 1) if estimator == "fair" else n_members**2
    score = skill - spread / (2 * max(pairs, 1))
    return np.where(valid.any(-1), score, np.nan)


def variogram_score_kernel(
    members: np.ndarray, obs: np.ndarray, p: float = 0.5, weights: np.ndarray | None = None
) -> np.ndarray:
    """Variogram score of order ``p`` of ``members`` (..., M, D) against ``obs`` (..., D),
    pairs weighted by ``weights`` (D, D) (default 1) -> (...). Missing components as in
    :func:`energy_score_kernel`."""
    members, obs = np.asarray(members, float), np.asarray(obs, float)
    n_members = members.shape[-2]
    valid = ~(np.isnan(obs) | np.isnan(members).any(axis=-2))
    members = np.where(valid[..., None, :], members, 0.0)
    obs = np.where(valid, obs, 0.0)
    pair_valid = valid[..., :, None] & valid[..., None, :]
    observed = np.abs(obs[..., :, None] - obs[..., None, :]) ** p
    expected = np.zeros(observed.shape)
    for m in range(n_members):  # D x D per member
        x = members[..., m, :]
        expected += np.abs(x[..., :, None] - x[..., None, :]) ** p
    expected /= n_members
    terms = np.where(pair_valid, (observed - expected) ** 2, 0.0)
    if weights is not None:
        terms = terms * weights
    return np.where(valid.any(-1), terms.sum((-2, -1)), np.nan)


def _over_points(kernel, forecast: xr.DataArray, truth: xr.DataArray, member_dim: str):
    """``kernel(members (..., M, D), truth (..., D))`` with D the grid points, lazy on dask."""
    point = "_point"
    fc = forecast.stack({point: ("lat", "lon")}).transpose(..., member_dim, point)
    tr = truth.stack({point: ("lat", "lon")}).transpose(..., point)
    return xr.apply_ufunc(
        kernel,
        fc.chunk({member_dim: -1, point: -1}) if fc.chunks else fc,
        tr.chunk({point: -1}) if tr.chunks else tr,
        input_core_dims=[[member_dim, point], [point]],
        dask="parallelized",
        output_dtypes=[float],
    )


def _point_areas(forecast: xr.DataArray, region: Region | str) -> tuple[np.ndarray, np.ndarray]:
    """Cell areas (mean 1 over the region) of the region's points, and which points those are."""
    areas = area_weights(forecast, region).stack(_point=("lat", "lon")).values
    inside = areas > 0
    return areas[inside] / areas[inside].mean(), inside


def energy_score(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    *,
    region: Region | str = "global",
    member_dim: str = MEMBER,
    estimator: str = "fair",
) -> xr.DataArray:
    """Energy score over the grid points of ``region`` (area-weighted norm), one value per
    remaining case (e.g. init_time, lead_time); lazy on dask."""
    areas, inside = _point_areas(forecast, region)
    scale = np.sqrt(areas)
    return _over_points(
        lambda x, y: energy_score_kernel(x[..., inside] * scale, y[..., inside] * scale, estimator),
        forecast,
        truth,
        member_dim,
    )


def variogram_score(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    *,
    region: Region | str = "global",
    member_dim: str = MEMBER,
    p: float = 0.5,
) -> xr.DataArray:
    """Variogram score of order ``p`` over the grid points of ``region``, pairs weighted by
    the product of their cell areas; one value per remaining case; lazy on dask."""
    areas, inside = _point_areas(forecast, region)
    weights = areas[:, None] * areas[None, :]
    return _over_points(
        lambda x, y: variogram_score_kernel(x[..., inside], y[..., inside], p, weights),
        forecast,
        truth,
        member_dim,
    )
