"""Relative economic value against a brute-force contingency table, and CRPSS against its
closed form."""

import numpy as np
import xarray as xr

from forecast.scoring.events import COST_LOSS, relative_economic_value


def brute_force_value(probability, outcome, members, alpha):
    """max over thresholds k/M (and never / always acting) of the value of acting on p >= t."""
    n = len(outcome)
    base = sum(outcome) / n
    best = -np.inf
    for t in [np.inf, *[k / members for k in range(members, 0, -1)], -np.inf]:
        hits = false_alarms = misses = 0
        for p, o in zip(probability, outcome, strict=True):
            warned = p >= t - 1e-9
            hits += warned and o == 1
            false_alarms += warned and o == 0
            misses += (not warned) and o == 1
        expense = alpha * (hits + false_alarms) / n + misses / n
        climate = min(alpha, base)
        best = max(best, (climate - expense) / (climate - alpha * base))
    return best


def test_the_value_curve_is_the_brute_force_contingency_tables():
    rng = np.random.default_rng(3)
    members, n = 8, 300
    signal = rng.normal(size=n)
    outcome = (signal + rng.normal(scale=0.8, size=n) > 0.8).astype(float)
    counts = np.clip(np.round((signal + 1.5) / 3 * members + rng.normal(size=n)), 0, members)
    probability = counts / members
    value = relative_economic_value(
        xr.DataArray(probability, dims="case"),
        xr.DataArray(outcome, dims="case"),
        members,
    )
    expected = [brute_force_value(probability, outcome, members, a) for a in COST_LOSS]
    np.testing.assert_allclose(value.values, expected, rtol=1e-12, atol=1e-12)
    assert value.sizes["cost_loss"] == 99 and COST_LOSS[0] == 0.01 and COST_LOSS[-1] == 0.99
    assert float(value.max()) > 0.2  # a forecast with signal has value somewhere


def test_a_perfect_forecast_has_value_one_and_climatology_none():
    outcome = xr.DataArray(np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0], float), dims="case")
    perfect = relative_economic_value(outcome, outcome, 4)
    np.testing.assert_allclose(perfect.values, 1.0)
    climate = relative_economic_value(xr.full_like(outcome, 0.3), outcome, 10)
    np.testing.assert_allclose(climate.values, 0.0, atol=1e-12)


def climate_world(n_init=40, n_members=30, seed=0):
    """Truth and an ensemble both drawn from the climatology N(mu, s^2) of every point."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    lat, lon = np.linspace(-60, 60, 5), np.arange(0, 360, 60.0)
    inits = pd.date_range("2020-01-01", periods=n_init, freq="D")
    leads = pd.to_timedelta([24], "h")
    mu = 5.0 + np.arange(5)[:, None] + np.zeros((5, 6))
    s = 0.5 + 0.1 * np.arange(6)[None, :] + np.zeros((5, 6))
    truth = mu + s * rng.normal(size=(n_init, 1, 5, 6))
    members = mu + s * rng.normal(size=(n_init, 1, n_members, 5, 6))
    coords = {"init_time": inits, "lead_time": leads, "lat": lat, "lon": lon}
    truth = xr.Dataset({"t2m": (("init_time", "lead_time", "lat", "lon"), truth)}, coords=coords)
    forecast = xr.Dataset(
        {"t2m": (("init_time", "lead_time", "member", "lat", "lon"), members)}, coords=coords
    )
    days = np.arange(1, 367)
    clim = xr.Dataset(
        {
            "t2m": (
                ("statistic", "dayofyear", "lat", "lon"),
                np.stack([np.broadcast_to(mu, (366, 5, 6)), np.broadcast_to(s, (366, 5, 6))]),
            )
        },
        coords={"statistic": ["mean", "std"], "dayofyear": days, "lat": lat, "lon": lon},
    )
    return forecast, truth, clim


def test_crpss_is_zero_for_climatology_and_one_for_a_perfect_ensemble():
    from forecast.scoring import score_ensemble

    forecast, truth, clim = climate_world()
    drawn = score_ensemble(forecast, truth, climatology=clim)["crpss"].compute()
    assert abs(float(drawn.item())) < 0.03  # the fair CRPS of draws from the climatology
    perfect = forecast.copy(
        data={"t2m": np.broadcast_to(truth["t2m"].values[:, :, None], forecast["t2m"].shape).copy()}
    )
    assert float(score_ensemble(perfect, truth, climatology=clim)["crpss"].item()) == 1.0
    value = score_ensemble(forecast, truth, climatology=clim)["event_value"].compute()
    assert set(value.dims) == {"variable", "lead_time", "event", "cost_loss"}
    assert float(value.sel(event="above_2sigma").max()) < 0.2  # climatology: little value


def precipitation_world(n_init: int = 400, n_members: int = 20, seed: int = 1):
    """tp for truth and members drawn from the climatology of its model space,
    (tp / 1 mm)^(1/3) ~ N(mu, s^2) mapped back: dry where the draw is negative."""
    from pipelines.transforms import TRANSFORM_ATTR, transform_of

    forecast, truth, clim = climate_world(n_init, n_members, seed)
    transform = transform_of("tp")
    centre = xr.DataArray([5.5, 0.0], dims="statistic", coords={"statistic": ["mean", "std"]})
    clim = (clim - centre).rename({"t2m": "tp"})  # model-space means -0.5 .. 3.5
    clim["tp"].attrs[TRANSFORM_ATTR] = transform.description
    forecast = transform.inverse(forecast.rename({"t2m": "tp"}) - 5.5)
    truth = transform.inverse(truth.rename({"t2m": "tp"}) - 5.5)
    return forecast, truth, clim


def test_precipitation_crpss_and_extremes_use_its_skewed_climatology():
    from forecast.scoring import score_ensemble

    forecast, truth, clim = precipitation_world()
    assert 0.1 < float((truth["tp"] == 0).mean()) < 0.9
    table = score_ensemble(forecast, truth, climatology=clim).compute()
    # draws from the climatology have no skill against it: the skewed climatology's CRPS
    # (quantiles mapped back) agrees with the members' fair CRPS
    assert abs(float(table["crpss"].item())) < 0.03
    assert list(table["event"].values) == ["above_p95", "above_p99"]
    # the thresholds are the climatology's 95th and 99th percentiles: the truth passes them
    # 5% and 1% of the time
    rates = table["event_base_rate"].squeeze().values
    np.testing.assert_allclose(rates, [0.05, 0.01], atol=0.006)
