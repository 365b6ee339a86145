"""The paired block bootstrap: it finds a real difference, and it covers zero about as
often as it claims when there is none."""

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from forecast.scoring.significance import block_length, paired_difference


def ar1(rng, n, rho, size=()):
    """Unit-variance AR(1) series along the last axis."""
    x = np.empty((*size, n))
    x[..., 0] = rng.normal(size=size)
    for t in range(1, n):
        x[..., t] = rho * x[..., t - 1] + np.sqrt(1 - rho**2) * rng.normal(size=size)
    return x


def scores(values, n):
    return xr.DataArray(
        values,
        dims=("lead_time", "init_time"),
        coords={"init_time": pd.date_range("2020-01-01", periods=n)},
    )


def test_a_better_ensemble_is_found_better_and_an_equal_one_undecided():
    rng = np.random.default_rng(0)
    n = 40
    weather = 1.0 + 0.3 * ar1(rng, n, 0.6, (2,))  # case-to-case difficulty shared by both
    a = scores(weather + 0.05 * rng.normal(size=(2, n)) - np.array([[0.1], [0.0]]), n)
    b = scores(weather + 0.05 * rng.normal(size=(2, n)), n)
    result = paired_difference(a, b)
    assert result["verdict"].values.tolist() == [-1, 0]
    assert float(result["high"][0]) < 0 < float(result["high"][1])
    assert float(result["low"][1]) < 0
    assert result["above_zero"].values[0] < 0.025 and 0.05 < result["above_zero"].values[1] < 0.95
    np.testing.assert_allclose(result["difference"], (a - b).mean("init_time"))


def coverage(rho: float, trials: int = 300, n: int = 60) -> float:
    rng = np.random.default_rng(1)
    a, b = ar1(rng, n, rho, (trials,)), ar1(rng, n, rho, (trials,))
    result = paired_difference(
        xr.DataArray(a, dims=("trial", "init_time")),
        xr.DataArray(b, dims=("trial", "init_time")),
        samples=1000,
    )
    return float(((result["low"] <= 0) & (result["high"] >= 0)).mean())


def test_the_interval_covers_zero_about_95_percent_of_the_time_without_a_difference():
    assert 0.92 <= coverage(0.0) <= 0.98  # measured 0.95 (300 trials: +-1.3%)


def test_with_correlated_cases_the_interval_is_somewhat_too_narrow():
    """A known limit of block bootstraps on short series: with lag-1 correlation 0.5 over 60
    cases (about 20 independent ones) the 95% interval covers 0.85 of the time."""
    assert 0.80 <= coverage(0.5) <= 0.95


def test_the_block_grows_with_the_autocorrelation():
    rng = np.random.default_rng(2)
    assert block_length(rng.normal(size=200)) <= 2
    assert block_length(ar1(rng, 200, 0.8)) >= 5


def test_a_series_that_is_all_missing_leaves_the_block_to_the_others_quietly():
    """An event never observed gives an all-NaN series of Brier differences: no warning,
    and the block length is the other series' own."""
    rng = np.random.default_rng(3)
    series = np.stack([np.full(200, np.nan), ar1(rng, 200, 0.8)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert block_length(series) == block_length(series[1])


def test_compared_tables_differ_by_their_crps_and_rmse_and_find_the_sharper_ensemble_better():
    """compare_scores on two score tables: the CRPS difference is the difference of the
    tables' fair CRPS, the RMSE one of their RMSE (sqrt of the mean squared error over cases);
    an ensemble centred on the truth beats one offset from it at every lead time."""
    from forecast.scoring import compare_scores, score_ensemble

    rng = np.random.default_rng(4)
    n_init, lat, lon = 24, np.linspace(-60, 60, 5), np.arange(0, 360, 45.0)
    dims = ("init_time", "lead_time", "lat", "lon")
    coords = {
        "init_time": pd.date_range("2021-01-01", periods=n_init),
        "lead_time": pd.to_timedelta([24, 48], unit="h"),
        "lat": lat,
        "lon": lon,
    }
    truth = xr.Dataset({"z": (dims, rng.normal(size=(n_init, 2, 5, 8)))}, coords=coords)
    spread = rng.normal(size=(n_init, 2, 6, 5, 8))
    members = ("init_time", "lead_time", "member", "lat", "lon")
    good = xr.Dataset({"z": (members, truth["z"].values[:, :, None] + spread)}, coords=coords)
    offset = good + 1.5
    a, b = score_ensemble(good, truth), score_ensemble(offset, truth)
    compared = compare_scores(a, b)
    np.testing.assert_allclose(
        compared["difference"].sel(score="crps"), (a["crps"] - b["crps"]), rtol=1e-10
    )
    np.testing.assert_allclose(
        compared["difference"].sel(score="rmse"), (a["rmse"] - b["rmse"]), rtol=1e-10
    )
    assert (compared["verdict"].sel(score=["crps", "rmse"]) == -1).all()
    assert (compare_scores(a, a)["verdict"] == 0).all()
