"""Scores for ensemble forecasts: CRPS, reliability and extreme-event skill.

Array kernels (numpy or torch) live in :mod:`.kernels`; the xarray layer in
:mod:`.metrics` (CRPS, RMSE, spread, rank histograms) and :mod:`.events`
(Brier, reliability diagrams, ROC, economic value), :mod:`.multivariate` (energy and
variogram scores) and :mod:`.significance` (paired differences with a block bootstrap, score tables compared) and :mod:`.spectra`
(zonal and spherical-harmonic power spectra);
the whole table in :mod:`.summary`.
"""

from .events import (
    brier_scores,
    event_outcome,
    event_probability,
    percentile_threshold,
    reliability_diagram,
    roc,
    sigma_threshold,
)
from .kernels import crps_ensemble
from .metrics import (
    crps,
    crps_gaussian,
    ensemble_summary,
    rank_flatness,
    rank_histogram,
    weighted_mean,
)
from .multivariate import energy_score, variogram_score
from .regions import REGIONS, Region, area_weights
from .significance import compare_scores, paired_difference
from .spectra import spectral_ratio, spherical_spectrum, zonal_spectrum
from .summary import score_ensemble, table_rows

__all__ = [
    "REGIONS",
    "Region",
    "area_weights",
    "brier_scores",
    "compare_scores",
    "crps",
    "crps_ensemble",
    "crps_gaussian",
    "energy_score",
    "ensemble_summary",
    "event_outcome",
    "event_probability",
    "paired_difference",
    "percentile_threshold",
    "rank_flatness",
    "rank_histogram",
    "reliability_diagram",
    "roc",
    "score_ensemble",
    "sigma_threshold",
    "spectral_ratio",
    "spherical_spectrum",
    "table_rows",
    "variogram_score",
    "weighted_mean",
    "zonal_spectrum",
]
