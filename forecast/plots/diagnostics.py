"""Score figures from :func:`forecast.scoring.score_ensemble` results, several ensembles
side by side: scores against lead time, rank histograms, reliability diagrams, economic
value and power spectra."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from pipelines.leads import days_text, lead_days

from ..scoring.summary import METRICS


def _days(scores: xr.Dataset) -> np.ndarray:
    return lead_days(scores["lead_time"].values)


def lead_curves(
    scores: Mapping[str, xr.Dataset],
    variable: str,
    metrics: Sequence[str] = ("crps_nrg", "rmse", "spread_skill"),
) -> Figure:
    """Each metric against lead time (days), one line per ensemble."""
    figure = Figure(figsize=(4.3 * len(metrics), 3.4))
    axes = figure.subplots(1, len(metrics), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for name, table in scores.items():
            axis.plot(_days(table), table[metric].sel(variable=variable), marker="o", label=name)
        if metric == "spread_skill":
            axis.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        axis.set_xlabel("lead time (days)")
        axis.set_title(f"{variable}: {METRICS.get(metric, metric)}", fontsize=10)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def rank_histograms(scores: Mapping[str, xr.Dataset], variable: str, lead) -> Figure:
    """Rank histograms as relative frequency x (M + 1): a flat histogram sits on 1."""
    figure = Figure(figsize=(3.2 * len(scores), 2.9))
    axes = figure.subplots(1, len(scores), squeeze=False, sharey=True)
    for axis, (name, table) in zip(axes[0], scores.items(), strict=True):
        counts = table["rank_histogram"].sel(variable=variable, lead_time=lead).dropna("rank")
        frequency = counts / counts.sum()
        bins = counts.sizes["rank"]
        axis.bar(np.arange(bins), frequency * bins, width=1.0, color="tab:blue", alpha=0.8)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("rank of the truth")
    axes[0][0].set_ylabel("frequency x (M + 1)")
    figure.suptitle(f"{variable}, lead {days_text(lead)}", fontsize=10)
    figure.tight_layout()
    return figure


def _per_event(
    events: Sequence[str], variable: str, lead, height: float, xlabel: str, ylabel: str, draw
) -> Figure:
    """One panel per event, ``draw(axis, event)`` drawing its lines, shared labels."""
    figure = Figure(figsize=(3.8 * len(events), height))
    axes = figure.subplots(1, len(events), squeeze=False)
    for axis, event in zip(axes[0], events, strict=True):
        draw(axis, event)
        axis.set_xlabel(xlabel)
        axis.set_title(f"{variable} {event}, {days_text(lead)}", fontsize=9)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    return figure


def value_curves(
    scores: Mapping[str, xr.Dataset], variable: str, lead, events: Sequence[str]
) -> Figure:
    """Relative economic value against the cost/loss ratio per event, one line per ensemble
    (Richardson 2000): who, paying C to protect against a loss L, gains by acting on it."""

    def draw(axis, event: str) -> None:
        for name, table in scores.items():
            point = table["event_value"].sel(variable=variable, lead_time=lead, event=event)
            axis.plot(point["cost_loss"], point, label=name)
        axis.set_xscale("log")
        axis.set_ylim(0, 1)

    return _per_event(
        events, variable, lead, 3.4, "cost / loss ratio", "relative economic value", draw
    )


def reliability_diagrams(
    scores: Mapping[str, xr.Dataset], variable: str, lead, events: Sequence[str]
) -> Figure:
    """Observed frequency against forecast probability per event, one line per ensemble."""

    def draw(axis, event: str) -> None:
        axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
        for name, table in scores.items():
            point = table.sel(variable=variable, lead_time=lead, event=event)
            used = point["event_reliability_count"] > 0
            axis.plot(
                point["event_reliability_forecast_probability"].where(used),
                point["event_reliability_observed_frequency"].where(used),
                marker="o",
                markersize=3,
                label=name,
            )
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1)

    return _per_event(
        events, variable, lead, 3.6, "forecast probability", "observed frequency", draw
    )


SPECTRA = {  # score-table variable of the members' spectrum -> its truth's, axis label
    "zonal_spectrum": ("truth_zonal_spectrum", "zonal wavenumber"),
    "spherical_spectrum": ("truth_spherical_spectrum", "total wavenumber (degree)"),
}


def spectra(scores: Mapping[str, xr.Dataset], variable: str, lead) -> Figure:
    """The members' power spectra (zonal, and spherical-harmonic where the tables have it)
    against wavenumber on log axes, one line per ensemble, the truth's dashed: a generated
    ensemble that is too smooth falls below the truth at high wavenumbers."""
    kinds = [k for k in SPECTRA if all(k in table for table in scores.values())]
    figure = Figure(figsize=(4.6 * max(len(kinds), 1), 3.6))
    axes = figure.subplots(1, max(len(kinds), 1), squeeze=False)
    for axis, kind in zip(axes[0], kinds, strict=False):
        truth_kind, label = SPECTRA[kind]
        for name, table in scores.items():
            spectrum = table[kind].sel(variable=variable, lead_time=lead)
            axis.plot(spectrum[spectrum.dims[0]][1:], spectrum[1:], label=name)
        truth = next(iter(scores.values()))[truth_kind].sel(variable=variable, lead_time=lead)
        axis.plot(truth[truth.dims[0]][1:], truth[1:], color="black", linestyle="--", label="truth")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel(label)
        axis.set_title(f"{variable} power, {days_text(lead)}", fontsize=9)
    axes[0][0].set_ylabel("power (units^2)")
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    return figure
