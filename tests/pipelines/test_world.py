"""The embedded world on its tiny profile: physical invariants and the ensembles' statistics."""

import numpy as np
import pytest
import torch
import xarray as xr

from forecast import scoring
from forecast.scoring.metrics import exchangeability_chi2, rank_chi2
from pipelines import load_catalog
from pipelines.store import open_complete
from pipelines.world import WorldSettings, build_world
from pipelines.world.model import Physics, ShallowWater


@pytest.fixture(scope="module")
def worlds(tiny_worlds):
    return tiny_worlds


def component(folder, name) -> xr.Dataset:
    return open_complete(folder / f"{name}.zarr").load()


def weighted(da: xr.DataArray, dims) -> xr.DataArray:
    return da.weighted(scoring.area_weights(da)).mean(dims)


def test_model_is_deterministic_for_a_seed():
    model = ShallowWater(16, 32, 3600.0, Physics())

    def run(seed):
        generator = torch.Generator().manual_seed(seed)
        state = model.initial_state(2, generator)
        return model.run(state, model.initial_stirring(2, generator), 48, generator)[0]

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_world_build_is_deterministic_and_cached(worlds, tmp_path):
    again = build_world(WorldSettings(profile="tiny", model_error=True), tmp_path, progress=False)
    for name in ("truth", "operational"):
        xr.testing.assert_identical(component(again, name), component(worlds[True], name))
    start = again.stat().st_mtime
    assert (
        build_world(WorldSettings(profile="tiny", model_error=True), tmp_path, progress=False)
        == again
    )
    assert again.stat().st_mtime == start


def test_truth_is_steady_with_weather_like_winds(worlds):
    truth = component(worlds[False], "truth")
    assert all(np.isfinite(truth[v].values).all() for v in truth.data_vars)
    kinetic = weighted(0.5 * (truth.u500**2 + truth.v500**2), ["lat", "lon"])
    eddy_z = weighted((truth.z500 - truth.z500.mean("lon")) ** 2, ["lat", "lon"])
    # the run is laid out as independent segments; compare the first and last halves of each
    halves = np.array_split(np.arange(truth.sizes["time"]), 2)
    for series in (kinetic, eddy_z):
        first, second = (float(series.isel(time=h).mean()) for h in halves)
        assert abs(first - second) / first < 0.25
    assert 5 < float(np.sqrt(2 * kinetic.mean())) < 40  # rms wind, m/s
    assert 10 < float(abs(truth.u500).max()) < 80


def test_spread_grows_with_lead_and_stays_below_climatology(worlds):
    truth = component(worlds[False], "truth")
    ensemble = component(worlds[False], "operational")
    spread = np.sqrt(weighted(ensemble.z500.var("member", ddof=1), ["init_time", "lat", "lon"]))
    values = spread.values[1:]  # lead 0 perturbs vorticity only
    assert np.all(np.diff(values) > 0)
    climatological = float(np.sqrt(weighted(truth.z500.var("time"), ["lat", "lon"])))
    # the forecasts know the weather's own stirring: skill outlasts the longest lead
    assert 0.2 * climatological < values[-1] < 0.9 * climatological


def test_forecast_without_unknowns_replays_the_truth(monkeypatch, tmp_path):
    """With no initial error and no unknown stirring, a perfect-model forecast is the truth:
    the known stirring's innovations are replayed interval by interval, precipitation too."""
    from pipelines.world import build

    monkeypatch.setattr(build, "Physics", lambda: Physics(unpredictable_stirring=0.0))
    settings = WorldSettings(profile="tiny", model_error=False, perturbation=0.0, seed=3)
    truth, states, forcings, rains = build.run_truth(settings, progress=False)
    times = truth.indexes["time"]
    ensemble = build.run_ensemble(
        settings, "operational", states, forcings, rains, times, progress=False
    )
    at_valid = truth.sel(time=ensemble.init_time + ensemble.lead_time)
    for name in truth.data_vars:
        members = ensemble[name].transpose("member", "init_time", "lead_time", "lat", "lon")
        scale = float(abs(at_valid[name]).max())
        np.testing.assert_allclose(
            members.values, np.broadcast_to(at_valid[name].values, members.shape), atol=1e-5 * scale
        )
    # and the unknown part is what makes them differ
    settings = WorldSettings(profile="tiny", model_error=False, perturbation=0.0, seed=3)
    monkeypatch.setattr(build, "Physics", lambda: Physics(unpredictable_stirring=0.35))
    _, states, forcings, rains = build.run_truth(settings, progress=False)
    spread = (
        build.run_ensemble(settings, "operational", states, forcings, rains, times, progress=False)
        .z500.isel(lead_time=-1)
        .std("member")
    )
    assert float(spread.mean()) > 10.0


def test_uniform_moisture_is_carried_unchanged():
    """-u . grad q vanishes for a uniform q: with no evaporation and no condensation the
    advective form leaves a uniform column uniform, whatever the flow, to the accuracy of
    the grid's quadrature (the flux form alone would change it by q div(u) dt, ~10%)."""
    physics = Physics(evaporation_humidity=0.0, moisture_reference=1e9)
    model = ShallowWater(16, 32, 3600.0, physics)
    generator = torch.Generator().manual_seed(0)
    spec = model.initial_state(2, generator)
    forcing = model.initial_stirring(2, generator)
    spec, forcing, _ = model.run(spec, forcing, 24 * 10, generator)  # a flow with weather
    grid = model.isht(spec)
    grid[:, 3] = 30.0
    spec = model.sht(grid)
    spec, _, rain = model.run(spec, forcing, 48, generator)
    q = model.isht(spec)[:, 3]
    np.testing.assert_allclose(q.numpy(), 30.0, rtol=1e-3)
    assert float(rain.abs().max()) == 0.0


def test_balanced_perturbations_excite_no_gravity_waves():
    """About a flat state at rest the linearised divergence tendency is
    curl(f u) - lap(Phi'), zero in linear balance: the balanced increment's is a few
    percent of what its vorticity alone would start (both small enough to be linear)."""
    model = ShallowWater(32, 64, 1800.0, Physics())
    generator = torch.Generator().manual_seed(0)
    rest = model.initial_state(2, generator)
    rest[:, 1] = 0.0
    vorticity = model.stirring_noise(2, generator) / model.physics.stirring * 1e-8
    balanced = model.balanced(vorticity, rest)
    assert torch.equal(balanced[:, 1], torch.tril(vorticity))
    alone = torch.zeros_like(balanced)
    alone[:, 1] = balanced[:, 1]
    calm = torch.zeros_like(vorticity)

    def divergence_tendency(spec: torch.Tensor) -> float:
        tendency, _ = model.tendency(spec, calm)
        return float(model.isht(tendency[:, 2]).pow(2).mean().sqrt())

    assert divergence_tendency(rest + balanced) < 0.05 * divergence_tendency(rest + alone)


def test_balanced_perturbations_keep_the_relative_humidity():
    """The increment's moisture keeps q / q_sat where its height changes q_sat, to the
    accuracy of the spectral truncation of the product: a tenth of the change the height
    increment alone would make with q unchanged."""
    model = ShallowWater(32, 64, 1800.0, Physics())
    generator = torch.Generator().manual_seed(0)
    spec = model.initial_state(2, generator)
    forcing = model.initial_stirring(2, generator)
    spec, forcing, _ = model.run(spec, forcing, 48 * 6, generator)  # six days: moist weather
    vorticity = model.stirring_noise(2, generator) / model.physics.stirring * 2e-6
    increment = model.balanced(vorticity, spec)
    dry_increment = increment.clone()
    dry_increment[:, 3] = 0.0

    def humidity(state: torch.Tensor) -> torch.Tensor:
        grid = model.isht(state)
        return grid[:, 3] / model.saturation(grid[:, 0])

    def rms(x: torch.Tensor) -> float:
        return float(x.pow(2).mean().sqrt())

    before = humidity(spec)
    changed = rms(humidity(spec + dry_increment) - before)
    assert changed > 0.01  # the height increment matters to saturation
    assert rms(humidity(spec + increment) - before) < 0.1 * changed


def test_precipitation_is_intermittent_heavy_tailed_and_flow_dependent(worlds):
    truth = component(worlds[True], "truth")
    tp = truth.tp.values
    assert tp.min() >= 0 and truth.tp.attrs["units"] == "m"
    dry = (tp < 1e-5).mean()  # under 0.01 mm in the interval
    assert 0.5 < dry < 0.95
    wet = tp[tp >= 1e-5]
    # heavy-tailed: the wettest 1% far beyond the typical wet value
    assert np.quantile(wet, 0.99) > 10 * np.median(wet)
    # it rains where the layer is thin (cold, poleward, ascending air) more than where thick
    z = truth.z500 - truth.z500.mean("time")
    assert float(truth.tp.where(z < 0).mean()) > float(truth.tp.where(z > 0).mean())


def exchangeability_test(folder) -> tuple[float, np.ndarray]:
    """z500 from day 2 on (the initial errors are in vorticity only, so z500 needs a day)."""
    truth = component(folder, "truth")
    ensemble = component(folder, "operational").isel(lead_time=slice(2, None))
    observed = truth.sel(time=ensemble.init_time + ensemble.lead_time).z500.values
    return exchangeability_chi2(np.moveaxis(ensemble.z500.values, 2, -1), observed)


def test_rank_chi2_against_scipy():
    from scipy import stats

    rng = np.random.default_rng(0)
    members, observed = rng.standard_normal((500, 15)), rng.standard_normal(500)
    counts = np.bincount((members < observed[:, None]).sum(axis=1), minlength=16)
    assert rank_chi2(members, observed) == pytest.approx(stats.chisquare(counts).statistic)


def test_perfect_model_rank_histogram_is_flat(worlds):
    statistic, null = exchangeability_test(worlds[False])
    # a permutation test at the 5% level: the truth is no less flat than 95% of the members
    assert statistic <= np.quantile(null, 0.95)


def test_model_error_gives_a_measurable_bias(worlds):
    def bias(folder):
        truth = component(folder, "truth")
        ensemble = component(folder, "reforecast").isel(lead_time=-1)
        error = ensemble.z500.mean("member") - truth.z500.sel(
            time=ensemble.init_time + ensemble.lead_time
        )
        per_init = weighted(error, ["lat", "lon"])
        return float(per_init.mean()), float(per_init.std() / np.sqrt(per_init.size))

    perfect, _perfect_se = bias(worlds[False])
    biased, biased_se = bias(worlds[True])
    assert abs(biased) > 5 * biased_se
    assert abs(biased) > 3 * abs(perfect)
    statistic, null = exchangeability_test(worlds[True])
    assert statistic > 5 * null.max()  # the biased ensemble is visibly unreliable


def test_prepare_world_family_through_the_catalog(tiny_prepared):
    path = tiny_prepared["world-operational"]
    data, truth = open_complete(path), open_complete(path, "truth")
    assert data["z500"].dims == ("init_time", "lead_time", "member", "lat", "lon")
    assert data.sizes["member"] == 31 and data["z500"].attrs["units"] == "m2 s-2"
    # the truth group is the reanalysis at valid time
    reanalysis = open_complete(tiny_prepared["world-truth"])["z500"]
    np.testing.assert_array_equal(
        truth["z500"].isel(lead_time=0).values, reanalysis.sel(time=data.init_time).values
    )

    # and the members start from it, off by their initial errors (balanced, a few metres:
    # well under the error they grow into)
    def rms_error(lead: int) -> float:
        error = data["z500"].isel(lead_time=lead) - truth["z500"].isel(lead_time=lead)
        return float(np.sqrt((error**2).mean()))

    assert 0 < rms_error(0) < 0.5 * rms_error(-1)
    assert np.isfinite(open_complete(path, "climatology")["z500"].values).all()
    assert load_catalog().expand("world") == [
        "world-truth",
        "world-reforecast",
        "world-operational",
    ]
