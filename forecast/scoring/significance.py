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

import numpy as np
import xarray as xr


def block_length(differences: np.ndarray) -> int:
    """The block length for a series (last axis; the largest over the others)."""
    d = np.asarray(differences, float)
    n = d.shape[-1]
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


def _bootstrap_means(d: np.ndarray, block: int, samples: int, rng) -> np.ndarray:
    """Means of ``samples`` circular-block resamples of the last axis -> (..., samples)."""
    n = d.shape[-1]
    blocks = -(-n // block)
    starts = rng.integers(0, n, size=(samples, blocks))
    index = ((starts[..., None] + np.arange(block)) % n).reshape(samples, -1)[:, :n]
    return np.nanmean(d[..., index], axis=-1)


def paired_difference(
    score_a: xr.DataArray,
    score_b: xr.DataArray,
    *,
    dim: str = "init_time",
    block: int | None = None,
    samples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """Mean of ``score_a - score_b`` over ``dim`` and its bootstrap confidence interval.

    Returns ``difference``, ``low``, ``high`` (the ``level`` percentile interval),
    ``above_zero`` (the share of bootstrap means above 0) and ``verdict``: -1 where the
    interval lies below 0 (a scores lower: better for a negatively oriented score such as
    CRPS), +1 above, 0 undecided; with attribute ``block`` (the block length used).
    """
    differences = (score_a - score_b).transpose(..., dim)
    values = differences.values.astype(float)
    block = block or block_length(values)
    means = _bootstrap_means(values, block, samples, np.random.default_rng(seed))
    tail = (1 - level) / 2
    low, high = np.nanquantile(means, [tail, 1 - tail], axis=-1)
    other = [d for d in differences.dims if d != dim]
    coords = {name: differences.coords[name] for name in other if name in differences.coords}
    make = lambda v: xr.DataArray(v, dims=other, coords=coords)  # noqa: E731
    verdict = np.where(high < 0, -1, np.where(low > 0, 1, 0))
    result = xr.Dataset(
        {
            "difference": make(np.nanmean(values, axis=-1)),
            "low": make(low),
            "high": make(high),
            "above_zero": make((means > 0).mean(axis=-1)),
            "verdict": make(verdict),
        }
    )
    result.attrs.update({"block": block, "samples": samples, "level": level})
    return result
