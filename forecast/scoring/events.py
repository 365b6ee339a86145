"""Extreme events: thresholds from a climatology, probabilities, Brier, reliability and ROC.

Two ways of defining an event at each point and time:

- ``sigma`` events: the standardised anomaly (x - mu) / sigma beyond +k (above) or
  below -k, with mu, sigma the day-of-year climatology (k = 2, 3);
- ``percentile`` events: x above (below) a climatological percentile.

Both become a threshold field; the ensemble's event probability is the fraction of
members beyond it, and the outcome is whether the truth is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from . import kernels
from .metrics import MEMBER, apply_kernel, by_variable, weighted_mean
from .regions import Region

XrObj = Any


def sigma_threshold(clim_mean: XrObj, clim_std: XrObj, k: float) -> XrObj:
    """mu + k sigma: k > 0 for warm/high events, k < 0 for cold/low events."""
    return clim_mean + k * clim_std


def percentile_threshold(
    climatology_sample: XrObj, q: float, dims: tuple[str, ...] = ("time",)
) -> XrObj:
    """The q-quantile (0..1) of a climatological sample at each point (over ``dims``)."""
    sample = climatology_sample
    if sample.chunks:
        sample = sample.chunk({d: -1 for d in dims if d in sample.dims})
    return sample.quantile(q, dim=[d for d in dims if d in sample.dims]).drop_vars("quantile")


def event_probability(
    forecast: XrObj, threshold: XrObj, *, above: bool = True, member_dim: str = MEMBER
) -> XrObj:
    """Fraction of valid members beyond ``threshold``."""
    return apply_kernel(kernels.event_probability, forecast, threshold, member_dim, above=above)


def event_outcome(truth: XrObj, threshold: XrObj, *, above: bool = True) -> XrObj:
    """1.0 where the truth is beyond ``threshold``, 0.0 where not, NaN where the truth is NaN."""
    hit = truth > threshold if above else truth < threshold
    return hit.astype(float).where(truth.notnull() & threshold.notnull())


def brier_scores(
    forecast: XrObj,
    truth: XrObj,
    threshold: XrObj,
    *,
    above: bool = True,
    dims: tuple[str, ...] = ("init_time", "lat", "lon"),
    member_dim: str = MEMBER,
    region: Region | str = "global",
) -> xr.Dataset | xr.DataArray:
    """Brier score (standard and fair) and Brier skill score against climatology.

    BSS = 1 - BS / BS_ref, where the reference forecast is the constant base rate
    (the event's observed frequency over the scored sample, per remaining dimension):
    BS_ref = o_bar (1 - o_bar). The fair BS follows Ferro (2014).
    """
    probability = event_probability(forecast, threshold, above=above, member_dim=member_dim)
    outcome = event_outcome(truth, threshold, above=above)
    members = forecast.notnull().sum(member_dim)
    bs = weighted_mean(kernels.brier(probability, outcome), dims, region)
    bs_fair = weighted_mean(
        xr.apply_ufunc(
            kernels.brier, probability, outcome, members, dask="parallelized", output_dtypes=[float]
        ),
        dims,
        region,
    )
    base_rate = weighted_mean(outcome, dims, region)
    reference = (base_rate * (1 - base_rate)).where(
        lambda r: r > 0
    )  # no skill score without events
    return by_variable(
        brier=bs,
        brier_fair=bs_fair,
        base_rate=base_rate,
        brier_skill=1 - bs / reference,
        brier_skill_fair=1 - bs_fair / reference,
    )


def reliability_diagram(
    probability: XrObj, outcome: XrObj, *, n_bins: int = 10, dims: tuple[str, ...] | None = None
) -> XrObj:
    """Per forecast-probability bin: count, mean forecast probability and observed frequency.

    Bins are [0, 1/n), [1/n, 2/n), ..., [(n-1)/n, 1] (the last includes 1).
    """
    dims = tuple(d for d in (dims or probability.dims) if d in probability.dims)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = xr.apply_ufunc(
        lambda p: np.where(np.isnan(p), -1, np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)),
        probability,
        dask="parallelized",
        output_dtypes=[np.int64],
    )
    centres = 0.5 * (edges[1:] + edges[:-1])
    bins = xr.DataArray(np.arange(n_bins), dims="bin", coords={"bin": centres})
    in_bin = (index == bins) & outcome.notnull()
    count = in_bin.sum(dims)
    occupied = count.where(count > 0)  # empty bins: NaN, not 0/0
    mean_probability = probability.where(in_bin).sum(dims) / occupied
    observed = outcome.where(in_bin).sum(dims) / occupied
    return by_variable(
        count=count, forecast_probability=mean_probability, observed_frequency=observed
    )


def roc(
    probability: XrObj, outcome: XrObj, members: int, *, dims: tuple[str, ...] | None = None
) -> xr.Dataset:
    """ROC curve over the probability thresholds k/M (k = M..1, plus the end points) and its area.

    Hit rate H = #(p >= t, o = 1) / #(o = 1); false-alarm rate F = #(p >= t, o = 0) / #(o = 0).
    The area is the trapezoidal integral of H over F from (0, 0) to (1, 1).
    """
    dims = tuple(d for d in (dims or probability.dims) if d in probability.dims)
    levels = np.concatenate([[np.inf], np.arange(members, 0, -1) / members, [-np.inf]])
    thresholds = xr.DataArray(levels, dims="threshold", coords={"threshold": levels})
    valid = outcome.notnull() & probability.notnull()
    warned = (probability >= thresholds - 1e-9) & valid
    events = (outcome == 1) & valid
    non_events = (outcome == 0) & valid
    n_events, n_non_events = events.sum(dims), non_events.sum(dims)
    hit_rate = (warned & events).sum(dims) / n_events.where(n_events > 0)
    false_alarm_rate = (warned & non_events).sum(dims) / n_non_events.where(n_non_events > 0)
    area = xr.apply_ufunc(
        lambda h, f: np.trapezoid(h, f, axis=-1),
        hit_rate,
        false_alarm_rate,
        input_core_dims=[["threshold"], ["threshold"]],
        dask="parallelized",
        output_dtypes=[float],
    )
    return by_variable(hit_rate=hit_rate, false_alarm_rate=false_alarm_rate, auc=area)


COST_LOSS = np.round(np.arange(1, 100) / 100, 2)  # cost/loss ratios 0.01 .. 0.99


def relative_economic_value(
    probability: XrObj,
    outcome: XrObj,
    members: int,
    *,
    dims: tuple[str, ...] | None = None,
    cost_loss: np.ndarray = COST_LOSS,
    curve: xr.Dataset | None = None,
) -> XrObj:
    """Relative economic value of acting on the forecast probability, per cost/loss ratio
    (Richardson 2000, QJRMS 126, 649): the best over the probability thresholds k/M.

    A user who protects at cost C against a loss L, with alpha = C / L and base rate o,
    spends (per unit L) alpha (H o + F (1 - o)) + (1 - H) o acting on warnings with hit
    rate H and false-alarm rate F, min(alpha, o) with climatology alone and alpha o with a
    perfect forecast; V = (E_climate - E_forecast) / (E_climate - E_perfect), 1 for a
    perfect forecast, 0 for climatology. Never acting and always acting are among the
    thresholds, so the curve (the envelope over thresholds) is never below 0. ``curve``:
    the :func:`roc` of the same arguments, when already computed.
    """
    curve = roc(probability, outcome, members, dims=dims) if curve is None else curve
    dims = tuple(d for d in (dims or probability.dims) if d in probability.dims)
    valid = outcome.notnull() & probability.notnull()
    base = (outcome.where(valid) == 1).sum(dims) / valid.sum(dims).where(valid.sum(dims) > 0)
    alpha = xr.DataArray(cost_loss, dims="cost_loss", coords={"cost_loss": cost_loss})
    hits, false_alarms = curve["hit_rate"], curve["false_alarm_rate"]
    expense = alpha * (hits * base + false_alarms * (1 - base)) + (1 - hits) * base
    climate = np.minimum(alpha, base)
    value = (climate - expense) / (climate - alpha * base).where(lambda e: e > 0)
    return value.max("threshold")
