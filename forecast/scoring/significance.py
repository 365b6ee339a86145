"""Is a difference in scores real? Paired differences with a moving-block bootstrap.

Two ensembles scored on the same cases (init times) give paired scores a_t and b_t; their
mean difference d = mean_t (a_t - b_t) is uncertain because the cases are few and
neighbouring init times are correlated. The circular block bootstrap (Politis and Romano
1992) resamples blocks of ``block`` consecutive differences (wrapping at the end), which
keeps that correlation; the percentile interval of the resampled means is the confidence
interval. Measured coverage of the 95% interval with no true difference, 60 cases
(tests/forecast/scoring/test_significance.py): 0.95 for independent cases, 0.85 with lag-1
correlation 0.5 (block bootstraps of short correlated series are too narrow: read an
interval that barely excludes 0 with care). The default block length is
the plug-in rule for an AR(1) series with lag-1 autocorrelation rho (Politis and White
2004, with Patton et al. 2009's correction): b = (2 rho / (1 - rho^2))^(2/3) n^(1/3),
at least 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import xarray as xr

from pipelines.errors import DataError


def block_length(differences: np.ndarray) -> int:
    """The block length for a series (last axis; the largest over the others)."""
    d = np.asarray(differences, float)
    n = d.shape[-1]
    with warnings.catch_warnings():  # a series that is all NaN (an event never seen) is fine
        warnings.simplefilter("ignore", RuntimeWarning)
        centred = d - np.nanmean(d, axis=-1, keepdims=True)
    denominator = np.nansum(centred**2, axis=-1)
    numerator = np.nansum(centred[..., 1:] * centred[..., :-1], axis=-1)
    rho = np.clip(
        np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0),
        0.0,
        0.95,
    )
    length = (2 * rho / (1 - rho**2)) ** (2 / 3) * n ** (1 / 3)
    return int(np.clip(np.ceil(np.max(length, initial=1.0)), 1, n))


def _block_resamples(n: int, block: int, samples: int, rng) -> np.ndarray:
    """Indices of ``samples`` circular-block resamples of n cases -> (samples, n)."""
    blocks = -(-n // block)
    starts = rng.integers(0, n, size=(samples, blocks))
    return ((starts[..., None] + np.arange(block)) % n).reshape(samples, -1)[:, :n]


def paired_difference(
    score_a: xr.DataArray,
    score_b: xr.DataArray,
    *,
    dim: str = "init_time",
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    block: int | None = None,
    samples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """T(mean of ``score_a``) - T(mean of ``score_b``) over ``dim`` and its bootstrap confidence
    interval, T = ``transform`` (identity: the mean paired difference; np.sqrt on squared
    errors: the difference in RMSE). Cases where either score is NaN are left out.

    Returns ``difference``, ``low``, ``high`` (the ``level`` percentile interval),
    ``above_zero`` (the share of bootstrap differences above 0) and ``verdict``: -1 where
    the interval lies below 0 (a scores lower: better for a negatively oriented score such
    as CRPS), +1 above, 0 undecided; with attributes ``block`` (the block length used),
    ``samples`` and ``level``.
    """
    a = score_a.transpose(..., dim)
    b = score_b.transpose(..., dim)
    a, b = xr.align(a, b, join="exact")
    both = a.notnull() & b.notnull()
    values_a = a.where(both).values.astype(float)
    values_b = b.where(both).values.astype(float)
    transform = transform or (lambda x: x)
    block = block or block_length(values_a - values_b)
    index = _block_resamples(values_a.shape[-1], block, samples, np.random.default_rng(seed))
    with warnings.catch_warnings():  # an all-NaN resample is NaN, and says so
        warnings.simplefilter("ignore", RuntimeWarning)
        boot = transform(np.nanmean(values_a[..., index], -1)) - transform(
            np.nanmean(values_b[..., index], -1)
        )
        estimate = transform(np.nanmean(values_a, -1)) - transform(np.nanmean(values_b, -1))
        tail = (1 - level) / 2
        low, high = np.nanquantile(boot, [tail, 1 - tail], axis=-1)
    other = [d for d in a.dims if d != dim]
    coords = {name: a.coords[name] for name in other if name in a.coords}
    make = lambda v: xr.DataArray(v, dims=other, coords=coords)  # noqa: E731
    verdict = np.where(high < 0, -1, np.where(low > 0, 1, 0))
    result = xr.Dataset(
        {
            "difference": make(estimate),
            "low": make(low),
            "high": make(high),
            "above_zero": make((boot > 0).mean(axis=-1)),
            "verdict": make(verdict),
        }
    )
    result.attrs.update({"block": block, "samples": samples, "level": level})
    return result


# Scores compared case by case: name -> (per-case variable of a score table, transform of
# its mean). All are negatively oriented: a verdict of -1 means lower, that is better.
PAIRED_SCORES: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray] | None]] = {
    "crps": ("crps_per_case", None),
    "rmse": ("mse_per_case", np.sqrt),
}
TWO_SIGMA_EVENTS = ["above_2sigma", "below_2sigma"]
VERDICTS = {-1: "better", 0: "undecided", 1: "worse"}


def _per_case(scores: xr.Dataset) -> dict[str, tuple[xr.DataArray, Callable | None]]:
    """The per-case series of each score a table can be compared on."""
    series = {
        name: (scores[variable], transform)
        for name, (variable, transform) in PAIRED_SCORES.items()
        if variable in scores
    }
    if "event_brier_per_case" in scores:
        brier = scores["event_brier_per_case"]
        for event in brier["event"].values:
            series[f"brier_{event}"] = (brier.sel(event=event, drop=True), None)
        if set(TWO_SIGMA_EVENTS) <= set(brier["event"].values):
            series["brier_2sigma"] = (brier.sel(event=TWO_SIGMA_EVENTS).mean("event"), None)
    return series


def compare_scores(
    scores: xr.Dataset,
    baseline: xr.Dataset,
    *,
    samples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """Each score of the table ``scores`` against the same score of ``baseline`` (tables of
    :func:`.summary.score_ensemble`) on the init times, variables and lead times they share:
    :func:`paired_difference` per (score, variable, lead_time), stacked along ``score``
    (fair CRPS, RMSE, and the Brier score of each event the two share), with ``block``."""
    ours, theirs = _per_case(scores), _per_case(baseline)
    names = [name for name in ours if name in theirs]
    if not names:
        raise DataError(
            "the baseline has no per-init-time scores to compare with "
            "(score files written before this version of forecast have none: score it again)"
        )
    results = []
    for name in names:
        (a, transform), (b, _) = ours[name], theirs[name]
        a, b = xr.align(a, b, join="inner")
        if a.sizes.get("init_time", 0) == 0 or a.sizes.get("variable", 1) == 0:
            raise DataError(
                "the ensemble and its baseline share no init time and variable to compare on"
            )
        difference = paired_difference(
            a, b, transform=transform, samples=samples, level=level, seed=seed
        )
        results.append(difference.assign(block=difference.attrs["block"]))
    compared = xr.concat(results, dim=xr.DataArray(names, dims="score", name="score"))
    compared.attrs = {"samples": samples, "level": level, "cases": a.sizes["init_time"]}
    return compared
