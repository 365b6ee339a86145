"""Alignment at valid time, against a brute-force loop over (init, lead)."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipelines import DataError
from pipelines.align import truth_at_valid_time, truth_on_forecast_grid

TIMES = pd.date_range("2020-01-01", periods=12, freq="6h")


def reanalysis(n_lat=4, n_lon=8, variables=("z500", "t850"), members=None) -> xr.Dataset:
    rng = np.random.default_rng(1)
    lat = np.linspace(-67.5, 67.5, n_lat)
    lon = np.arange(n_lon) * 360.0 / n_lon
    shape = (len(TIMES), *(() if members is None else (members,)), n_lat, n_lon)
    dims = ("time", *(() if members is None else ("member",)), "lat", "lon")
    return xr.Dataset(
        {v: (dims, rng.normal(size=shape).astype(np.float32)) for v in variables},
        coords={"time": TIMES, "lat": lat, "lon": lon},
    )


def forecast(n_lat=4, n_lon=8, variables=("z500",)) -> xr.Dataset:
    lat = np.linspace(-67.5, 67.5, n_lat)
    lon = np.arange(n_lon) * 360.0 / n_lon
    inits, leads = TIMES[[0, 2, 4]], pd.to_timedelta([0, 6, 18], "h")
    return xr.Dataset(
        {
            v: (
                ("init_time", "lead_time", "member", "lat", "lon"),
                np.zeros((3, 3, 2, n_lat, n_lon), np.float32),
            )
            for v in variables
        },
        coords={"init_time": inits, "lead_time": leads, "lat": lat, "lon": lon},
    )


def test_the_truth_is_the_reanalysis_at_each_valid_time():
    rean, fc = reanalysis(), forecast()
    truth = truth_at_valid_time(fc, rean)
    assert truth["z500"].dims == ("init_time", "lead_time", "lat", "lon")
    for i, init in enumerate(fc["init_time"].values):
        for j, lead in enumerate(fc["lead_time"].values):
            expected = rean["z500"].sel(time=init + lead).values
            np.testing.assert_array_equal(truth["z500"].values[i, j], expected)


def test_an_ensemble_reanalysis_verifies_with_its_member_mean():
    rean = reanalysis(members=3)
    truth = truth_at_valid_time(forecast(), rean)
    when = TIMES[4] + pd.Timedelta("18h")
    np.testing.assert_allclose(
        truth["z500"].sel(init_time=TIMES[4], lead_time=pd.Timedelta("18h")).values,
        rean["z500"].sel(time=when).values.mean(axis=0),
        rtol=1e-6,
    )


def test_valid_times_outside_the_reanalysis_are_refused():
    # valid times 0, 6, 12, 18, 24, 30 and 42 h; the reanalysis ends at 30 h
    with pytest.raises(DataError, match=r"1 of 7 forecast valid times .* \(first: 2020-01-02T18\)"):
        truth_at_valid_time(forecast(), reanalysis().isel(time=slice(0, 6)))


def test_on_the_forecast_grid_the_truth_is_regridded_and_that_is_said():
    fine, said = reanalysis(n_lat=8, n_lon=16), []
    fc = forecast(n_lat=4, n_lon=8)
    truth, on_grid = truth_on_forecast_grid(fc, fine, notice=said.append)
    assert len(said) == 1 and "8 x 16 points" in said[0] and "4 x 8 points" in said[0]
    assert list(on_grid.data_vars) == ["z500"] and truth.sizes["lat"] == 4
    constant = fine.assign(z500=fine["z500"] * 0 + 7.0)  # conservative: a constant stays
    truth, _ = truth_on_forecast_grid(fc, constant)
    np.testing.assert_allclose(truth["z500"].values, 7.0, rtol=1e-6)
    assert not said[1:]


def test_missing_variables_are_refused_or_dropped_as_asked():
    fc = forecast(variables=("z500", "q700"))
    with pytest.raises(DataError, match=r"has no \['q700'\] to verify"):
        truth_on_forecast_grid(fc, reanalysis())
    truth, _ = truth_on_forecast_grid(fc, reanalysis(), every_variable=False)
    assert list(truth.data_vars) == ["z500"]
    with pytest.raises(DataError, match="shares no variable"):
        truth_on_forecast_grid(forecast(variables=("q700",)), reanalysis(), every_variable=False)
