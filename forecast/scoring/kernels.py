"""Array kernels for ensemble scores; the member axis is the last axis.

All kernels take numpy arrays or torch tensors (see :mod:`.backend`) and are
NaN-aware per point: a NaN member is left out, so M is the number of valid
members at that point; a point with no valid member, or a NaN observation, gives NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import backend as B

ESTIMATORS = ("nrg", "fair")


def crps_ensemble(forecast: Any, obs: Any, estimator: str = "fair") -> Any:
    """CRPS of an ensemble forecast, in O(M log M) per point by sorting.

    With members sorted, x_(1) <= ... <= x_(M), the pairwise term
    sum_i sum_j |x_i - x_j| = 2 sum_i (2i - M - 1) x_(i), so

    ``nrg`` (the CRPS of the empirical distribution; "standard"):
        CRPS = 1/M sum_i |x_i - y| - 1/M^2 sum_i (2i - M - 1) x_(i)
    ``fair`` (unbiased for the CRPS of the distribution the members are drawn
    from; Ferro 2014, Meteorol. Appl. 21, 215-223, eq. 4):
        CRPS_f = 1/M sum_i |x_i - y| - 1/(M(M-1)) sum_i (2i - M - 1) x_(i)

    For M = 1 the pairwise term vanishes and both reduce to the absolute error
    (the fair estimator's 0/0 is taken as 0).

    Parameters
    ----------
    forecast
        Members along the last axis, shape (..., M).
    obs
        Observations, shape (...) broadcastable against ``forecast[..., 0]``.
    estimator
        ``"fair"`` (default) or ``"nrg"``.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if not B.is_torch(forecast) and not B.is_torch(obs):
        return _crps_numpy(np.asarray(forecast), np.asarray(obs), estimator)
    with np.errstate(invalid="ignore", divide="ignore"):  # all-NaN points give NaN, by design
        return _crps_sorted(forecast, obs, estimator)


def _crps_numpy(forecast: np.ndarray, obs: np.ndarray, estimator: str) -> np.ndarray:
    """numpy inputs: the compiled kernel when numba is there, else the array code."""
    try:
        from .numba_kernels import crps_rows
    except (
        ImportError
    ):  # pragma: no cover - numba is a dependency; this keeps the maths usable without it
        with np.errstate(invalid="ignore", divide="ignore"):
            return _crps_sorted(forecast, obs, estimator)
    dtype = np.float32 if forecast.dtype == np.float32 and obs.dtype == np.float32 else np.float64
    shape = np.broadcast_shapes(forecast.shape[:-1], obs.shape)
    members = np.broadcast_to(forecast, (*shape, forecast.shape[-1])).reshape(
        -1, forecast.shape[-1]
    )
    observed = np.broadcast_to(obs, shape).reshape(-1)
    score = crps_rows(
        members.astype(dtype, copy=False), observed.astype(dtype, copy=False), estimator == "fair"
    )
    return score.reshape(shape)


def _crps_sorted(forecast: Any, obs: Any, estimator: str) -> Any:
    """The formula in array operations (numpy or torch; differentiable in torch)."""
    forecast, obs = B.as_float(forecast), B.as_float(obs)
    x = B.sort(forecast, axis=-1)
    valid = ~B.isnan(x)
    valid_f = B.to_float(valid, x)
    m = B.sum_(valid_f, axis=-1, keepdims=True)  # valid members per point
    rank = B.cumsum(valid_f, axis=-1)  # 1..M over the valid (leading, after sorting) members
    x0 = B.where(valid, x, B.zeros_like(x))
    obs_ = obs[..., None]
    skill = B.sum_(B.where(valid, B.abs_(x0 - obs_), B.zeros_like(x)), axis=-1) / m[..., 0]
    spread = B.sum_((2 * rank - m - 1) * x0 * valid_f, axis=-1)
    mm = m[..., 0]
    if estimator == "nrg":
        denominator = mm * mm
    else:
        denominator = mm * (mm - 1)
        denominator = B.where(mm > 1, denominator, B.zeros_like(denominator) + 1)
    result = skill - spread / denominator
    nothing = (mm == 0) | B.isnan(obs + B.zeros_like(mm))
    return B.where(nothing, B.nan_like(result), result)


def crps_gaussian(mu: Any, sigma: Any, obs: Any) -> Any:
    """Closed-form CRPS of N(mu, sigma^2) (Gneiting et al. 2005, Mon. Wea. Rev. 133, eq. 5):

    CRPS = sigma [ z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi) ],  z = (y - mu) / sigma.
    """
    if B.is_torch(mu) or B.is_torch(obs):
        import torch

        z = (obs - mu) / sigma
        normal = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z))
        cdf, pdf = normal.cdf(z), torch.exp(normal.log_prob(z))
    else:
        from scipy.stats import norm

        z = (np.asarray(obs) - mu) / sigma
        cdf, pdf = norm.cdf(z), norm.pdf(z)
    return sigma * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))


def ensemble_moments(forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NaN-aware (mean, variance with ddof=1, count) over the last axis."""
    count = np.sum(~np.isnan(forecast), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(forecast, axis=-1) / count
        variance = np.nansum((forecast - mean[..., None]) ** 2, axis=-1) / (count - 1)
    mean = np.where(count > 0, mean, np.nan)
    variance = np.where(count > 1, variance, np.nan)
    return mean, variance, count


def rank_of_obs(forecast: np.ndarray, obs: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Rank of the observation among the valid members, 0..M; ties broken uniformly at random.

    rank = #{x_i < y} + floor(u (#{x_i == y} + 1)), u ~ U[0, 1) given per point in
    ``uniform`` (Hamill 2001, Mon. Wea. Rev. 129). NaN members do not count; a point with
    NaN observation or no valid member gives -1.
    """
    below = np.sum(forecast < obs[..., None], axis=-1)
    ties = np.sum(forecast == obs[..., None], axis=-1)
    rank = below + np.floor(uniform * (ties + 1)).astype(np.int64)
    missing = np.isnan(obs) | np.all(np.isnan(forecast), axis=-1)
    return np.where(missing, -1, rank)


_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def position_uniform(index: np.ndarray, seed: int) -> np.ndarray:
    """U[0, 1) draws that depend only on (seed, index): the (index + 1)-th output of
    SplitMix64 seeded with ``seed`` (Steele et al. 2014, OOPSLA), its top 53 bits.

    A counter-based draw gives each point of a field the same number however the field
    is chunked (a generator restarted per dask block would repeat its stream in every
    block, and its numbers would follow the chunking).
    """
    with np.errstate(over="ignore"):
        z = np.uint64(seed % 2**64) + (index.astype(np.uint64) + np.uint64(1)) * _GOLDEN_GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def event_probability(
    forecast: np.ndarray, threshold: np.ndarray, above: bool = True
) -> np.ndarray:
    """Fraction of valid members with x > threshold (or x < threshold when ``above`` is False)."""
    valid = ~np.isnan(forecast)
    hits = (forecast > threshold[..., None]) if above else (forecast < threshold[..., None])
    count = valid.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        probability = (hits & valid).sum(axis=-1) / count
    return np.where(count > 0, probability, np.nan)


def brier(
    probability: np.ndarray, outcome: np.ndarray, members: np.ndarray | None = None
) -> np.ndarray:
    """Brier score (p - o)^2, or with ``members`` the fair Brier score of Ferro (2014):

    BS_fair = (p - o)^2 - p (1 - p) / (M - 1),

    unbiased for the Brier score of the infinite ensemble the M members are drawn from.
    """
    score = (probability - outcome) ** 2
    if members is None:
        return score
    with np.errstate(invalid="ignore", divide="ignore"):
        correction = probability * (1 - probability) / (members - 1)
    return score - np.where(members > 1, correction, 0.0)
