"""The energy and variogram scores against scoringrules, their closed forms and what they
are for: seeing the structure of a field that pointwise scores cannot."""

import numpy as np
import pandas as pd
import pytest
import scoringrules
import xarray as xr

from forecast.scoring import area_weights, crps
from forecast.scoring.multivariate import (
    energy_score,
    energy_score_kernel,
    variogram_score,
    variogram_score_kernel,
)

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_the_energy_score_is_scoringrules(estimator):
    members, obs = RNG.normal(size=(6, 11, 40)), RNG.normal(size=(6, 40))
    expected = scoringrules.es_ensemble(obs, members, estimator=estimator)
    np.testing.assert_allclose(energy_score_kernel(members, obs, estimator), expected, rtol=1e-12)


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
def test_the_variogram_score_is_scoringrules(p):
    members, obs = RNG.normal(size=(4, 9, 15)), RNG.normal(size=(4, 15))
    weights = RNG.uniform(size=(15, 15))
    np.testing.assert_allclose(
        variogram_score_kernel(members, obs, p),
        scoringrules.vs_ensemble(obs, members, p=p),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        variogram_score_kernel(members, obs, p, weights),
        scoringrules.vs_ensemble(obs, members, weights, p=p),
        rtol=1e-12,
    )


def test_missing_components_are_left_out_of_the_case():
    members, obs = RNG.normal(size=(3, 7, 10)), RNG.normal(size=(3, 10))
    obs[0, 2] = np.nan  # a land point in the truth
    members[1, 4, 6] = np.nan  # a member missing one point
    for case, dropped in ((0, 2), (1, 6), (2, None)):
        keep = [d for d in range(10) if d != dropped]
        x, y = members[case][:, keep], obs[case][keep]
        assert energy_score_kernel(members, obs)[case] == pytest.approx(
            float(energy_score_kernel(x, y)), rel=1e-12
        )
        assert variogram_score_kernel(members, obs)[case] == pytest.approx(
            float(variogram_score_kernel(x, y)), rel=1e-12
        )
    assert np.isnan(energy_score_kernel(members[:1], np.full((1, 10), np.nan)))[0]


def grid_ensemble(n_init=3, n_members=8, n_lat=6, n_lon=8):
    lat = np.linspace(-75, 75, n_lat)
    lon = np.arange(n_lon) * 360.0 / n_lon
    inits = pd.date_range("2020-01-01", periods=n_init, freq="D")
    forecast = xr.DataArray(
        RNG.normal(size=(n_init, n_members, n_lat, n_lon)),
        dims=("init_time", "member", "lat", "lon"),
        coords={"init_time": inits, "lat": lat, "lon": lon},
    )
    truth = xr.DataArray(
        RNG.normal(size=(n_init, n_lat, n_lon)),
        dims=("init_time", "lat", "lon"),
        coords={"init_time": inits, "lat": lat, "lon": lon},
    )
    return forecast, truth


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_over_one_point_the_energy_score_is_the_crps(estimator):
    forecast, truth = grid_ensemble()
    box = "10,40,80,100"  # one grid point: lat 15, lon 90
    es = energy_score(forecast, truth, region=box, estimator=estimator)
    point = crps(forecast, truth, estimator=estimator).sel(lat=15.0, lon=90.0)
    np.testing.assert_allclose(es.values, point.values, rtol=1e-12)


def test_on_a_grid_points_weigh_by_cell_area_and_dask_gives_the_same():
    forecast, truth = grid_ensemble()
    areas = area_weights(forecast).values.ravel()
    scale = np.sqrt(areas / areas.mean())
    x = forecast.values.reshape(3, 8, -1) * scale
    y = truth.values.reshape(3, -1) * scale
    expected = scoringrules.es_ensemble(y, x, estimator="fair")
    np.testing.assert_allclose(energy_score(forecast, truth).values, expected, rtol=1e-12)
    weights = np.outer(areas, areas) / areas.mean() ** 2
    expected_vs = scoringrules.vs_ensemble(
        truth.values.reshape(3, -1), forecast.values.reshape(3, 8, -1), weights, p=0.5
    )
    np.testing.assert_allclose(variogram_score(forecast, truth).values, expected_vs, rtol=1e-12)
    lazy = energy_score(forecast.chunk({"init_time": 1}), truth.chunk({"init_time": 1}))
    assert lazy.chunks is not None
    np.testing.assert_allclose(lazy.compute().values, expected, rtol=1e-12)


def test_the_variogram_score_sees_a_wrong_correlation_that_crps_cannot():
    """Truth and ensemble A: fields with correlated neighbours; ensemble B: the same
    marginals, independent points. Their CRPS agree; the variogram score prefers A."""
    cases, n_members, dim = 400, 16, 6
    distance = np.abs(np.subtract.outer(np.arange(dim), np.arange(dim)))
    covariance = 0.9**distance
    chol = np.linalg.cholesky(covariance)
    truth = RNG.normal(size=(cases, dim)) @ chol.T
    correlated = RNG.normal(size=(cases, n_members, dim)) @ chol.T
    independent = RNG.normal(size=(cases, n_members, dim))
    crps_a = scoringrules.crps_ensemble(truth, correlated, m_axis=1).mean()
    crps_b = scoringrules.crps_ensemble(truth, independent, m_axis=1).mean()
    assert abs(crps_a / crps_b - 1) < 0.05
    vs_a = variogram_score_kernel(correlated, truth).mean()
    vs_b = variogram_score_kernel(independent, truth).mean()
    assert vs_a < 0.7 * vs_b


def test_the_score_table_carries_both_scores_and_skips_the_variogram_on_large_grids():
    from forecast.scoring import score_ensemble
    from forecast.scoring.summary import VARIOGRAM_MAX_POINTS

    forecast, truth = grid_ensemble()
    leads = pd.to_timedelta([24], "h")
    as_dataset = {
        "forecast": forecast.expand_dims(lead_time=leads, axis=1).to_dataset(name="z500"),
        "truth": truth.expand_dims(lead_time=leads, axis=1).to_dataset(name="z500"),
    }
    table = score_ensemble(as_dataset["forecast"], as_dataset["truth"]).compute()
    areas = area_weights(forecast).values.ravel()
    scale = np.sqrt(areas / areas.mean())
    expected = scoringrules.es_ensemble(
        truth.values.reshape(3, -1) * scale,
        forecast.values.reshape(3, 8, -1) * scale,
        estimator="fair",
    ).mean()
    assert float(table["energy_score"].sel(variable="z500").item()) == pytest.approx(
        expected, rel=1e-12
    )
    assert "variogram_score" in table
    big, big_truth = grid_ensemble(n_init=1, n_members=2, n_lat=40, n_lon=30)
    assert big.sizes["lat"] * big.sizes["lon"] > VARIOGRAM_MAX_POINTS
    table = score_ensemble(
        big.expand_dims(lead_time=leads, axis=1).to_dataset(name="z500"),
        big_truth.expand_dims(lead_time=leads, axis=1).to_dataset(name="z500"),
    )
    assert "variogram_score" not in table and "energy_score" in table
