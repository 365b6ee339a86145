import numpy as np
import pandas as pd
import xarray as xr

from pipelines.climatology import (
    climatology_at,
    daily_climatology,
    from_anomaly,
    normalisation_stats,
    to_anomaly,
)


def seasonal(years: int = 6, noise: float = 2.0, seed: int = 0) -> tuple[xr.Dataset, np.ndarray]:
    times = pd.date_range("2001-01-01", periods=365 * years, freq="D")
    doy = times.day_of_year.values
    cycle = 280.0 + 10.0 * np.cos(2 * np.pi * (doy - 15) / 365.25)
    rng = np.random.default_rng(seed)
    values = cycle[:, None, None] + noise * rng.standard_normal((times.size, 3, 4))
    ds = xr.Dataset(
        {"t850": (("time", "lat", "lon"), values.astype("f4"), {"units": "K"})},
        coords={"time": times, "lat": [-30.0, 0.0, 30.0], "lon": [0.0, 90.0, 180.0, 270.0]},
    )
    return ds.chunk({"time": 365}), cycle


def test_recovers_a_known_seasonal_cycle_and_noise():
    ds, _ = seasonal()
    clim = daily_climatology(ds, half_window=7).compute()
    days = np.arange(1, 366)
    truth = 280.0 + 10.0 * np.cos(2 * np.pi * (days - 15) / 365.25)
    # the window mean of a cosine is the cosine times sinc; for +-7 days that is 0.996
    mean = clim["t850"].sel(statistic="mean").sel(dayofyear=days).mean(["lat", "lon"]).values
    np.testing.assert_allclose(mean, truth, atol=0.25)
    std = clim["t850"].sel(statistic="std").sel(dayofyear=days)
    # 6 years x 15 days = 90 samples per point: the std estimate is within a few percent of 2
    assert abs(float(std.mean()) - 2.0) < 0.05
    assert clim["t850"].dims == ("statistic", "dayofyear", "lat", "lon")


def test_short_record_falls_back_to_whole_record_statistics():
    ds, _ = seasonal(years=1)
    ds = ds.isel(time=slice(0, 5))
    clim = daily_climatology(ds, half_window=3).compute()
    far = clim["t850"].sel(dayofyear=200)
    np.testing.assert_allclose(far.sel(statistic="mean"), ds["t850"].mean("time"), rtol=1e-6)
    np.testing.assert_allclose(far.sel(statistic="std"), ds["t850"].std("time"), rtol=1e-4)
    assert np.isfinite(clim["t850"].values).all()


def test_anomalies_round_trip_and_are_standardised():
    ds, _ = seasonal()
    clim = daily_climatology(ds, half_window=7)
    at = climatology_at(clim, ds["time"])
    anomaly = to_anomaly(ds, at)
    assert abs(float(anomaly["t850"].mean())) < 0.05
    assert abs(float(anomaly["t850"].std()) - 1.0) < 0.05
    np.testing.assert_allclose(
        from_anomaly(anomaly, at)["t850"].values, ds["t850"].values, rtol=1e-5
    )


def test_normalisation_stats_against_numpy():
    ds, _ = seasonal(years=1)
    stats = normalisation_stats(ds).compute()
    # equal-area test grid rows at -30, 0, 30: weights from sin-lat edges, computed by hand
    edges = np.deg2rad([-45.0, -15.0, 15.0, 45.0])
    w = np.diff(np.sin(edges))
    values = ds["t850"].values.astype(float)
    weights = np.broadcast_to(w[None, :, None], values.shape)
    mean = np.average(values, weights=weights)
    std = np.sqrt(np.average((values - mean) ** 2, weights=weights))
    np.testing.assert_allclose(float(stats["t850"].sel(statistic="mean")), mean, rtol=1e-6)
    np.testing.assert_allclose(float(stats["t850"].sel(statistic="std")), std, rtol=1e-4)


def ensemble_with_gaps(seed: int = 1) -> xr.Dataset:
    """Two years 6-hourly, 3 members, geopotential-sized values, 10% missing, 2 time chunks."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2003-06-01", periods=4 * 730, freq="6h")
    values = 5.4e4 + 300.0 * rng.standard_normal((times.size, 3, 3, 4))
    values[rng.random(values.shape) < 0.1] = np.nan
    ds = xr.Dataset(
        {"z500": (("time", "member", "lat", "lon"), values)},
        coords={"time": times, "lat": [-30.0, 0.0, 30.0], "lon": [0.0, 90.0, 180.0, 270.0]},
    )
    return ds.chunk({"time": 1500})


def test_climatology_of_an_ensemble_with_gaps_against_brute_force():
    ds = ensemble_with_gaps()
    half_window = 5
    clim = daily_climatology(ds, half_window=half_window).compute()
    doy = ds["time"].dt.dayofyear.values
    values = ds["z500"].values
    for day in (1, 60, 200, 366):
        distance = np.abs(doy - day)
        in_window = np.minimum(distance, 366 - distance) <= half_window
        window = values[in_window]
        expected_mean = np.nanmean(window, axis=(0, 1))
        expected_std = np.nanstd(window, axis=(0, 1))
        got = clim["z500"].sel(dayofyear=day)
        np.testing.assert_allclose(got.sel(statistic="mean"), expected_mean, rtol=1e-6)
        np.testing.assert_allclose(got.sel(statistic="std"), expected_std, rtol=1e-4)


def test_normalisation_stats_of_an_ensemble_with_gaps_against_numpy():
    ds = ensemble_with_gaps()
    stats = normalisation_stats(ds).compute()
    values = ds["z500"].values
    w = np.diff(np.sin(np.deg2rad([-45.0, -15.0, 15.0, 45.0])))
    weights = np.where(np.isnan(values), 0.0, w[None, None, :, None])
    filled = np.nan_to_num(values)
    mean = (weights * filled).sum() / weights.sum()
    std = np.sqrt((weights * (filled - mean) ** 2).sum() / weights.sum())
    np.testing.assert_allclose(float(stats["z500"].sel(statistic="mean")), mean, rtol=1e-7)
    np.testing.assert_allclose(float(stats["z500"].sel(statistic="std")), std, rtol=1e-5)
