"""Ensemble scores on xarray objects: DataArray/Dataset in, same out, lazy on dask.

Pointwise scores keep every dimension but the member dimension; summaries reduce
over ``dims`` with cell-area weights (see :mod:`.regions`). The member dimension may
be chunked: it is gathered into one chunk per block, which is what sorting needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats as scipy_stats

from pipelines.transforms import climatological_value, is_model_space

from . import kernels
from .regions import Region, area_weights

MEMBER = "member"
XrObj = Any  # xr.DataArray | xr.Dataset


def _members_whole(forecast: XrObj, member_dim: str) -> XrObj:
    if forecast.chunks and member_dim in forecast.dims:
        return forecast.chunk({member_dim: -1})
    return forecast


def apply_kernel(
    func,
    forecast: XrObj,
    truth: XrObj,
    member_dim: str,
    dtype=float,
    pointwise: tuple[XrObj, ...] = (),
    **kwargs,
) -> XrObj:
    """A numpy kernel ``func(members (..., M), truth (...), *pointwise, **kwargs)`` applied
    to xarray objects: the member dimension whole in each chunk, the rest broadcast, lazy
    on dask."""
    return xr.apply_ufunc(
        func,
        _members_whole(forecast, member_dim),
        truth,
        *pointwise,
        kwargs=kwargs,
        input_core_dims=[[member_dim], [], *([] for _ in pointwise)],
        dask="parallelized",
        output_dtypes=[dtype],
        keep_attrs=False,
    )


def crps(
    forecast: XrObj, truth: XrObj, *, member_dim: str = MEMBER, estimator: str = "fair"
) -> XrObj:
    """Pointwise ensemble CRPS (see :func:`kernels.crps_ensemble`), estimator ``fair`` or ``nrg``."""
    return apply_kernel(kernels.crps_ensemble, forecast, truth, member_dim, estimator=estimator)


def crps_gaussian(mean: XrObj, std: XrObj, truth: XrObj) -> XrObj:
    """Pointwise closed-form CRPS of a Gaussian forecast N(mean, std^2)."""
    return xr.apply_ufunc(
        kernels.crps_gaussian, mean, std, truth, dask="parallelized", output_dtypes=[float]
    )


# quantiles that stand for a skewed climatological distribution in its CRPS
CLIMATOLOGY_QUANTILES = 100


def crps_climatology(clim_at: xr.DataArray, truth: XrObj) -> XrObj:
    """Pointwise CRPS of the day-of-year climatology (statistic, ...) at the truth's times.

    A physical climatology is the Gaussian N(mu, sigma^2) (closed form). One in model space
    (precipitation, :mod:`pipelines.transforms`) is the Gaussian there, mapped back: a
    distribution with a point mass at zero, scored as the standard CRPS of its quantiles at
    probabilities (i + 1/2) / Q, Q = 100 (the discretisation adds about 1 / (12 Q^2) of the
    squared range per cell to the integral of (F - H)^2: well under 1%).
    """
    if not is_model_space(clim_at):
        return crps_gaussian(
            clim_at.sel(statistic="mean", drop=True), clim_at.sel(statistic="std", drop=True), truth
        )
    probabilities = (np.arange(CLIMATOLOGY_QUANTILES) + 0.5) / CLIMATOLOGY_QUANTILES
    z = xr.DataArray(scipy_stats.norm.ppf(probabilities), dims=MEMBER)
    return crps(climatological_value(clim_at, z), truth, estimator="nrg")


def weighted_mean(score: XrObj, dims: tuple[str, ...], region: Region | str = "global") -> XrObj:
    """Cell-area weighted mean over ``dims`` (NaNs skipped) within ``region``."""
    weights = area_weights(score, region) if {"lat", "lon"} <= set(score.dims) else None
    dims = tuple(d for d in dims if d in score.dims)
    if weights is None:
        return score.mean(dims)
    return score.weighted(weights).mean(dims)


def ensemble_summary(
    forecast: XrObj,
    truth: XrObj,
    *,
    dims: tuple[str, ...] = ("init_time", "lat", "lon"),
    member_dim: str = MEMBER,
    region: Region | str = "global",
    per_case: str | None = None,
) -> xr.Dataset:
    """CRPS (fair and standard), ensemble-mean RMSE, spread and spread-skill ratio; with
    ``per_case`` (one of ``dims``, e.g. init_time) also the fair CRPS and the squared error
    of the mean averaged over the other dims for each case: ``crps_per_case`` and
    ``mse_per_case``, the paired samples of :func:`.significance.paired_difference`.

    With M members, ensemble mean x̄ and unbiased variance s^2 (ddof=1):

    - ``rmse = sqrt(<(x̄ - y)^2>)`` and ``spread = sqrt(<s^2>)`` (<.> the weighted mean);
    - ``spread_skill = sqrt((M + 1) / M) * spread / rmse``. For a perfectly reliable
      ensemble E[(x̄ - y)^2] = (M + 1)/M * E[s^2] (Fortin et al. 2014, J. Hydrometeor.
      15, 1708-1713), so the corrected ratio is 1 whatever M;
    - ``mse_debiased = <(x̄ - y)^2> - <s^2 / M>``: an unbiased estimate of the MSE
      the mean of an infinite ensemble would have.
    """
    forecast = _members_whole(forecast, member_dim)
    # NaN where a point has no (or one) valid member, without a 0/0 warning
    mean, variance, count = xr.apply_ufunc(
        kernels.ensemble_moments,
        forecast,
        input_core_dims=[[member_dim]],
        output_core_dims=[[], [], []],
        dask="parallelized",
        output_dtypes=[float, float, int],
    )
    error2 = (mean - truth) ** 2
    m = count.where(count > 0)
    parts = {
        "crps": crps(forecast, truth, member_dim=member_dim, estimator="fair"),
        "crps_nrg": crps(forecast, truth, member_dim=member_dim, estimator="nrg"),
        "mse": error2,
        "variance": variance,
        "variance_over_m": variance / m,
        "ssr_factor": np.sqrt((m + 1) / m),
    }
    means = {k: weighted_mean(v, dims, region) for k, v in parts.items()}
    rmse, spread = np.sqrt(means["mse"]), np.sqrt(means["variance"])
    if per_case is not None:
        within = tuple(d for d in dims if d != per_case)
        means["crps_per_case"] = weighted_mean(parts["crps"], within, region)
        means["mse_per_case"] = weighted_mean(parts["mse"], within, region)
    return by_variable(
        crps=means["crps"],
        crps_nrg=means["crps_nrg"],
        rmse=rmse,
        spread=spread,
        spread_skill=means["ssr_factor"] * spread / rmse,
        mse_debiased=means["mse"] - means["variance_over_m"],
        **{k: means[k] for k in ("crps_per_case", "mse_per_case") if k in means},
    )


def by_variable(**named: XrObj) -> xr.Dataset:
    """Named metrics -> one Dataset of metrics. Metrics computed on Datasets (one entry per
    weather variable) gain a ``variable`` dimension; metrics on DataArrays stay as they are."""
    first = next(iter(named.values()))
    if isinstance(first, xr.DataArray):
        return xr.Dataset(named)
    variables = list(first.data_vars)
    per_variable = [xr.Dataset({k: v[name] for k, v in named.items()}) for name in variables]
    return xr.concat(per_variable, dim=xr.DataArray(variables, dims="variable", name="variable"))


def rank_histogram(
    forecast: XrObj,
    truth: XrObj,
    *,
    dims: tuple[str, ...] = ("init_time", "lat", "lon"),
    member_dim: str = MEMBER,
    seed: int = 0,
) -> XrObj:
    """Counts of the truth's rank among the members (0..M), ties broken at random with
    ``seed``: each point's draw is fixed by its position (:func:`kernels.position_uniform`),
    so the counts do not depend on how the inputs are chunked."""
    members = forecast.sizes[member_dim]
    uniform = _position_uniform(forecast.isel({member_dim: 0}, drop=True), truth, seed=seed)
    rank = apply_kernel(
        kernels.rank_of_obs, forecast, truth, member_dim, dtype=np.int64, pointwise=(uniform,)
    )
    bins = xr.DataArray(
        np.arange(members + 1), dims="rank", coords={"rank": np.arange(members + 1)}
    )
    return (rank == bins).sum([d for d in dims if d in rank.dims])


def _position_uniform(*like: XrObj, seed: int) -> xr.DataArray:
    """U[0, 1) per point of the broadcast of ``like`` (their dims in order of appearance),
    from the point's flat index; chunked as the inputs are."""
    zeros = [xr.zeros_like(x, dtype=np.uint64) for x in like]
    zeros = [
        z.to_array().isel(variable=0, drop=True) if isinstance(z, xr.Dataset) else z for z in zeros
    ]
    template = xr.broadcast(*zeros)[0]
    index = template.drop_vars(list(template.coords))
    stride = 1
    for dim in reversed(index.dims):
        index = index + xr.DataArray(
            np.arange(index.sizes[dim], dtype=np.uint64) * np.uint64(stride), dims=dim
        )
        stride *= index.sizes[dim]
    return xr.apply_ufunc(
        kernels.position_uniform,
        index.transpose(*template.dims),
        kwargs={"seed": seed},
        dask="parallelized",
        output_dtypes=[np.float64],
    ).assign_coords(template.coords)


def rank_flatness(histogram: XrObj) -> xr.Dataset:
    """Chi-square statistic of a rank histogram against flatness, its p-value (M dof),
    and the reliability index Delta = sum |n_k/N - 1/(M+1)| (Delle Monache et al. 2006)."""
    total = histogram.sum("rank")
    bins = histogram.sizes["rank"]
    expected = total / bins
    chi2 = ((histogram - expected) ** 2 / expected).sum("rank")
    p_value = xr.apply_ufunc(
        lambda c: scipy_stats.chi2.sf(c, bins - 1), chi2, dask="parallelized", output_dtypes=[float]
    )
    delta = abs(histogram / total - 1.0 / bins).sum("rank")
    return xr.Dataset({"chi2": chi2, "p_value": p_value, "reliability_index": delta})


def rank_chi2(members: np.ndarray, observed: np.ndarray) -> float:
    """Chi-square statistic against flatness of the rank of ``observed`` among ``members``
    (..., M), pooled over all points: M + 1 bins. Ties count as below (continuous data)."""
    size = members.shape[-1]
    rank = (members < observed[..., None]).sum(axis=-1)
    counts = np.bincount(rank.ravel(), minlength=size + 1)
    expected = counts.sum() / (size + 1)
    return float(((counts - expected) ** 2 / expected).sum())


def exchangeability_chi2(members: np.ndarray, observed: np.ndarray) -> tuple[float, np.ndarray]:
    """Rank-flatness statistic of the truth, and its null distribution from the members.

    Neighbouring points, lead times and init times are correlated, so the textbook
    chi-square p-value of a pooled rank histogram is far too small. Each member taken in
    turn as pseudo-truth against the other M - 1 is, in a reliable ensemble, exchangeable
    with the truth and has the same correlations: the M pseudo-truth statistics are the
    null distribution (a permutation test). The truth is ranked among M - 1 members too
    (the last is left out), so all statistics have the same M bins.
    Returns (statistic of the truth, the M null values).
    """
    null = [
        rank_chi2(np.delete(members, k, axis=-1), members[..., k]) for k in range(members.shape[-1])
    ]
    return rank_chi2(members[..., :-1], observed), np.array(null)
