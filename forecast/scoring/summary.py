"""The whole score table of an ensemble against the truth: one Dataset, lazy until computed
(variables small enough are scored in memory, see :data:`IN_MEMORY_BYTES`).

Dimensions of the result: ``variable``, ``lead_time``, and, per metric, ``rank``
(rank histogram), ``event`` (extreme events), ``bin`` (reliability diagrams),
``cost_loss`` (economic value), ``wavenumber``, ``degree`` and ``band`` (spectra), and
``init_time`` for the per-case scores (``*_per_case``) that paired significance tests
need. Everything else (init times, space) is averaged with cell-area weights over the
chosen region.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.stats import norm

from pipelines.align import valid_time
from pipelines.climatology import climatology_at
from pipelines.errors import DataError
from pipelines.leads import hours_text
from pipelines.transforms import climatological_value, transform_of

from . import events, kernels, metrics, multivariate, spectra
from .regions import Region, area_weights, region_from_string
from .significance import VERDICTS

SIGMA_EVENTS = {
    "above_2sigma": 2.0,
    "below_2sigma": -2.0,
    "above_3sigma": 3.0,
    "below_3sigma": -3.0,
}
PERCENTILE_EVENTS = {"above_p95": 0.95, "below_p05": 0.05}
# A variable modelled in a transformed space (precipitation, pipelines.transforms) has
# its heavy upper tail as extremes (its low percentiles are zero): its climatological
# 95th and 99th percentiles, from the climatological sample when given, else from the
# day-of-year climatology (the Gaussian of its model space, mapped back).
SKEWED_PERCENTILE_EVENTS = {"above_p95": 0.95, "above_p99": 0.99}


def headline_events(variable: str) -> list[str]:
    """The events a report shows for a variable: +-2 sigma, or a skewed variable's
    climatological 95th and 99th percentiles."""
    if transform_of(variable) is not None:
        return list(SKEWED_PERCENTILE_EVENTS)
    return ["above_2sigma", "below_2sigma"]


# A variable whose members, truth and climatology take less than this is scored in
# memory: its score table is thousands of small xarray operations, and through dask each
# costs graph building and scheduling, most of the time for a few MB of members
# (benchmarks/RESULTS.md, "Scoring in memory, maps without wrapped cells"). Larger ones
# stay lazy.
IN_MEMORY_BYTES = 256 * 2**20
# the variogram score costs (points)^2 per member and case: regions up to this size
VARIOGRAM_MAX_POINTS = 1024
# the spherical-harmonic spectrum holds (degrees^2 x latitudes) Legendre values: grids up
# to 0.5 degree (361 x 720) have one
SPHERICAL_MAX_DEGREES = 360


def _event_scores(
    forecast: xr.DataArray, truth: xr.DataArray, threshold: xr.DataArray, above: bool, dims, region
) -> xr.Dataset:
    brier = events.brier_scores(forecast, truth, threshold, above=above, dims=dims, region=region)
    probability = events.event_probability(forecast, threshold, above=above)
    outcome = events.event_outcome(truth, threshold, above=above)
    members = forecast.sizes["member"]
    curve = events.roc(probability, outcome, members=members, dims=dims)
    diagram = events.reliability_diagram(probability, outcome, dims=dims)
    value = events.relative_economic_value(
        probability, outcome, members=members, dims=dims, curve=curve
    )
    within = tuple(d for d in dims if d != "init_time")
    return brier.assign(
        brier_per_case=metrics.weighted_mean(kernels.brier(probability, outcome), within, region),
        auc=curve["auc"],
        value=value,
        reliability_count=diagram["count"],
        reliability_forecast_probability=diagram["forecast_probability"],
        reliability_observed_frequency=diagram["observed_frequency"],
    )


def score_variable(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    *,
    clim_at_valid: xr.DataArray | None = None,
    percentile_sample: xr.DataArray | None = None,
    region: Region | str = "global",
    seed: int = 0,
) -> xr.Dataset:
    """All metrics for one variable: dims (lead_time, [rank], [event])."""
    dims = ("init_time", "lat", "lon")
    table = metrics.ensemble_summary(
        forecast, truth, dims=dims, region=region, per_case="init_time"
    )
    histogram = metrics.rank_histogram(forecast, truth, dims=dims, seed=seed)
    flatness = metrics.rank_flatness(histogram)
    table = table.assign(
        rank_histogram=histogram,
        rank_chi2=flatness["chi2"],
        rank_p_value=flatness["p_value"],
        rank_reliability_index=flatness["reliability_index"],
        energy_score=multivariate.energy_score(forecast, truth, region=region).mean("init_time"),
    )
    if int((area_weights(forecast, region) > 0).sum()) <= VARIOGRAM_MAX_POINTS:
        table["variogram_score"] = multivariate.variogram_score(
            forecast, truth, region=region
        ).mean("init_time")
    if spectra.is_global(forecast):
        table = table.merge(spectra_of(forecast, truth, region))
    per_event = {}
    skewed = transform_of(str(forecast.name)) is not None
    if clim_at_valid is not None:
        # CRPSS against the climatological distribution at valid time
        clim_crps = metrics.weighted_mean(
            metrics.crps_climatology(clim_at_valid, truth), dims, region
        )
        table["crpss"] = 1 - table["crps"] / clim_crps.where(clim_crps > 0)
        levels = (
            {name: float(norm.ppf(q)) for name, q in SKEWED_PERCENTILE_EVENTS.items()}
            if skewed
            else SIGMA_EVENTS
        )
        for name, k in levels.items():
            threshold = climatological_value(clim_at_valid, k)
            per_event[name] = _event_scores(forecast, truth, threshold, k > 0, dims, region)
    if percentile_sample is not None:
        sample_dims = tuple(d for d in percentile_sample.dims if d not in ("lat", "lon"))
        percentiles = SKEWED_PERCENTILE_EVENTS if skewed else PERCENTILE_EVENTS
        for name, q in percentiles.items():
            threshold = events.percentile_threshold(percentile_sample, q, dims=sample_dims)
            per_event[name] = _event_scores(forecast, truth, threshold, q > 0.5, dims, region)
    if per_event:
        names = list(per_event)
        stacked = xr.concat(
            [per_event[n] for n in names], dim=xr.DataArray(names, dims="event", name="event")
        )
        table = table.merge(stacked.rename({v: f"event_{v}" for v in stacked.data_vars}))
    return table


def spectra_of(
    forecast: xr.DataArray, truth: xr.DataArray, region: Region | str = "global"
) -> xr.Dataset:
    """Zonal power spectra of the members and of the truth over the region's latitudes (all
    longitudes), their ratio per band of :data:`spectra.BANDS`, and on a global grid of up
    to :data:`SPHERICAL_MAX_DEGREES` degrees the spherical-harmonic spectra; averaged over
    members and init times."""
    region = region_from_string(region) if isinstance(region, str) else region
    band = (region.lat_min, region.lat_max)
    if not ((forecast["lat"] >= band[0]) & (forecast["lat"] <= band[1])).any():
        return xr.Dataset()
    members = spectra.zonal_spectrum(forecast, lat_band=band, average=("member", "init_time"))
    observed = spectra.zonal_spectrum(truth, lat_band=band, average=("init_time",))
    result = xr.Dataset(
        {
            "zonal_spectrum": members,
            "truth_zonal_spectrum": observed,
            "spectral_ratio": spectra.spectral_ratio(members, observed),
        }
    )
    if (
        spectra.covers_sphere(forecast)
        and spectra.spherical_degrees(forecast) <= SPHERICAL_MAX_DEGREES
    ):
        result["spherical_spectrum"] = spectra.spherical_spectrum(
            forecast, average=("member", "init_time")
        )
        result["truth_spherical_spectrum"] = spectra.spherical_spectrum(
            truth, average=("init_time",)
        )
    return result


def score_ensemble(
    forecast: xr.Dataset,
    truth: xr.Dataset,
    *,
    climatology: xr.Dataset | None = None,
    percentile_sample: xr.Dataset | None = None,
    region: Region | str = "global",
    seed: int = 0,
) -> xr.Dataset:
    """Score every variable the forecast and truth share.

    Parameters
    ----------
    forecast
        (init_time, lead_time, member, lat, lon) per variable.
    truth
        (init_time, lead_time, lat, lon): the reanalysis at valid time.
    climatology
        Day-of-year climatology (statistic, dayofyear, lat, lon): enables the +-2 and
        +-3 sigma events.
    percentile_sample
        A climatological sample (time, [member], lat, lon): enables the 5th/95th
        percentile events.
    """
    # sorted: zarr lists a store's arrays in no guaranteed order
    names = sorted(str(v) for v in forecast.data_vars if v in truth.data_vars)
    if not names:
        raise DataError(
            f"forecast ({list(forecast.data_vars)}) and truth ({list(truth.data_vars)}) share no variable"
        )
    valid = valid_time(truth)
    tables = []
    for name in names:
        clim_at = (
            climatology_at(climatology[name], valid)
            if climatology is not None and name in climatology
            else None
        )
        sample = (
            percentile_sample[name]
            if percentile_sample is not None and name in percentile_sample
            else None
        )
        inputs = (forecast[name], truth[name], clim_at, sample)
        if sum(x.nbytes for x in inputs if x is not None) <= IN_MEMORY_BYTES:
            inputs = tuple(None if x is None else x.compute() for x in inputs)
        tables.append(
            score_variable(
                inputs[0],
                inputs[1],
                clim_at_valid=inputs[2],
                percentile_sample=inputs[3],
                region=region,
                seed=seed,
            )
        )
    result = xr.concat(
        tables, dim=xr.DataArray(names, dims="variable", name="variable"), join="outer"
    )
    result.attrs = {
        "region": region if isinstance(region, str) else region.name,
        "members": int(forecast.sizes["member"]),
        "init_times": int(forecast.sizes["init_time"]),
        "rank_seed": seed,
        "crps": "fair estimator (crps_nrg: standard estimator of the empirical distribution)",
        "spread_skill": "sqrt((M+1)/M) * spread / rmse",
        "spectral_ratio": "members' zonal power over the truth's per wavenumber band "
        + ", ".join(f"{n} {lo}-{hi or 'n_lon/3'}" for n, (lo, hi) in spectra.BANDS.items()),
    }
    return result


# The scalar scores of one (variable, lead time), in the order tables show them, with the
# words they are shown by: the JSON rows, `forecast score`'s table, the run report and the
# figures all take their metrics and labels from here.
METRICS: dict[str, str] = {
    "crps": "fair CRPS",
    "crps_nrg": "CRPS",
    "crpss": "CRPSS",  # fair CRPS against the climatological Gaussian; needs a climatology
    "rmse": "RMSE",
    "spread": "spread",
    "spread_skill": "spread-skill",
    "mse_debiased": "debiased MSE",
    "rank_chi2": "rank chi2",
    "rank_p_value": "rank p-value",
    "rank_reliability_index": "rank RI",
    "energy_score": "energy score",
    "variogram_score": "variogram score",  # regions of up to VARIOGRAM_MAX_POINTS points
}
EVENT_METRICS = ("brier", "brier_skill", "auc")  # per event: event_<name>


def table_rows(scores: xr.Dataset) -> list[dict]:
    """One flat row per (variable, lead_time) with the headline numbers, for JSON and printing."""
    rows = []
    for variable in scores["variable"].values:
        for lead in scores["lead_time"].values:
            point = scores.sel(variable=variable, lead_time=lead)
            row = {"variable": str(variable), "lead_time": hours_text(lead)}
            for key in METRICS:
                if key in point:
                    row[key] = _number(point[key])
            if "spectral_ratio" in point:
                for band in point["band"].values:
                    row[f"spectral_ratio_{band}"] = _number(point["spectral_ratio"].sel(band=band))
            if "baseline_verdict" in point:
                for score in point["score"].values:
                    compared = point.sel(score=score)
                    verdict = float(compared["baseline_verdict"])
                    if np.isnan(verdict):  # a variable or lead time the baseline lacks
                        continue
                    row[f"{score}_vs_baseline"] = VERDICTS[int(verdict)]
                    for part in ("difference", "low", "high"):
                        row[f"{score}_vs_baseline_{part}"] = _number(compared[f"baseline_{part}"])
            if "event" in scores.dims:
                for event in scores["event"].values:
                    for key in EVENT_METRICS:
                        row[f"{event}_{key}"] = _number(point[f"event_{key}"].sel(event=event))
            rows.append(row)
    return rows


def _number(value: xr.DataArray) -> float | None:
    number = float(value)
    return None if np.isnan(number) else number
