"""The K-seed oracle against the Bayesian closed forms it is built from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.reference_ensembles import seed_oracle

SPREAD, PRIOR = 1.0, 4.0  # member variance s^2 around the centre, centre variance P


def gaussian_world(inits: int = 300, members: int = 31, seed: int = 0):
    """Centres mu ~ N(0, P); members and truth ~ N(mu, s^2): the truth is one more member."""
    rng = np.random.default_rng(seed)
    shape = (inits, 1, 6, 8)
    centre = rng.normal(0.0, np.sqrt(PRIOR), shape)[:, :, None]
    draws = centre + rng.normal(0.0, np.sqrt(SPREAD), (inits, 1, members + 1, 6, 8))
    coords = {
        "init_time": pd.date_range("2020-01-01", periods=inits, freq="D"),
        "lead_time": pd.to_timedelta([24], unit="h"),
    }
    dims = ("init_time", "lead_time", "member", "lat", "lon")
    physics = xr.Dataset({"z500": (dims, draws[:, :, :members])}, coords=coords)
    truth = xr.Dataset({"z500": (dims[:2] + dims[3:], draws[:, :, members])}, coords=coords)
    climatology = xr.Dataset(
        {"z500": (("statistic", "dayofyear", "lat", "lon"), np.zeros((2, 366, 6, 8)))},
        coords={"statistic": ["mean", "std"], "dayofyear": np.arange(1, 367)},
    )
    climatology["z500"].loc[{"statistic": "std"}] = np.sqrt(PRIOR + SPREAD)
    return physics, truth, climatology


@pytest.mark.parametrize("seeds", [1, 2, 4])
def test_flat_prior_centres_on_the_seeds_and_widens_by_sqrt_one_plus_one_over_k(seeds):
    physics, _, _ = gaussian_world(inits=20)
    oracle = seed_oracle(physics, seeds)
    seed_mean = physics.isel(member=slice(0, seeds)).mean("member")
    np.testing.assert_allclose(oracle["z500"].mean("member"), seed_mean["z500"], atol=1e-12)
    ratio = oracle["z500"].std("member") / physics["z500"].std("member")
    np.testing.assert_allclose(ratio, np.sqrt(1 + 1 / seeds), rtol=1e-12)
    assert oracle["z500"].dims == physics["z500"].dims


@pytest.mark.parametrize("seeds", [1, 2])
def test_climatological_prior_gives_the_bayes_posterior_error(seeds):
    """E[(y - mu_hat)^2] = s^2 + P (s^2/K) / (P + s^2/K): below the seed mean's s^2 (1 + 1/K)."""
    physics, truth, climatology = gaussian_world()
    oracle = seed_oracle(physics, seeds, climatology)
    noise = SPREAD / seeds
    expected = SPREAD + PRIOR * noise / (PRIOR + noise)
    error = float(((truth["z500"] - oracle["z500"].mean("member")) ** 2).mean())
    assert error == pytest.approx(expected, rel=0.04)
    flat = seed_oracle(physics, seeds)
    flat_error = float(((truth["z500"] - flat["z500"].mean("member")) ** 2).mean())
    assert flat_error == pytest.approx(SPREAD * (1 + 1 / seeds), rel=0.04)
    assert error < flat_error
    # and the members' spread says so: calibrated, spread^2 matches the error
    spread = float(oracle["z500"].var("member", ddof=1).mean())
    assert spread == pytest.approx(expected, rel=0.04)


def test_more_seeds_than_members_is_refused():
    physics, _, _ = gaussian_world(inits=2, members=3)
    with pytest.raises(ValueError, match="between 1 and 3"):
        seed_oracle(physics, 4)
