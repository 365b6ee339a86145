"""The xarray layer: broadcasting, laziness, chunking, weighting, and xskillscore as oracle."""

import dask
import numpy as np
import pytest
import xarray as xr
import xskillscore as xs

from forecast import scoring
from forecast.scoring.kernels import crps_ensemble, position_uniform


def ensemble(seed=0, members=9, init=6, lead=2, n_lat=7, n_lon=12, perfect=True):
    """Members and truth drawn from the same distribution (perfect=True) or an overconfident one."""
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal((init, lead, 1, n_lat, n_lon))
    scale = 1.0 if perfect else 0.4
    members_ = centre + scale * rng.standard_normal((init, lead, members, n_lat, n_lon))
    truth = centre[:, :, 0] + rng.standard_normal((init, lead, n_lat, n_lon))
    coords = {
        "init_time": np.arange(init),
        "lead_time": np.arange(lead),
        "member": np.arange(members),
        "lat": np.linspace(-75, 75, n_lat),
        "lon": np.arange(n_lon) * 360.0 / n_lon,
    }
    forecast = xr.DataArray(members_, dims=list(coords), coords=coords, name="z500")
    obs = xr.DataArray(
        truth,
        dims=("init_time", "lead_time", "lat", "lon"),
        coords={k: v for k, v in coords.items() if k != "member"},
        name="z500",
    )
    return forecast, obs


def raise_on_compute(*args, **kwargs):
    raise AssertionError("computed eagerly")


def test_crps_broadcasts_and_matches_the_kernel():
    forecast, truth = ensemble()
    got = scoring.crps(forecast, truth)
    assert got.dims == ("init_time", "lead_time", "lat", "lon")
    expected = crps_ensemble(np.moveaxis(forecast.values, 2, -1), truth.values)
    np.testing.assert_allclose(got.values, expected)


@pytest.mark.parametrize("member_chunk", [1, 4, -1])
def test_lazy_and_chunking_independent(member_chunk):
    forecast, truth = ensemble()
    lazy_forecast = forecast.chunk({"init_time": 2, "member": member_chunk})
    lazy_truth = truth.chunk({"init_time": 2})
    with dask.config.set(scheduler=raise_on_compute):
        summary = scoring.ensemble_summary(lazy_forecast.to_dataset(), lazy_truth.to_dataset())
        hist = scoring.rank_histogram(lazy_forecast, lazy_truth)
    eager = scoring.ensemble_summary(forecast.to_dataset(), truth.to_dataset())
    xr.testing.assert_allclose(summary.compute(), eager)
    xr.testing.assert_equal(hist.compute(), scoring.rank_histogram(forecast, truth))


def test_weighted_mean_uses_cell_area():
    forecast, truth = ensemble()
    score = scoring.crps(forecast, truth)
    lat = score.lat.values  # cells reach half a spacing beyond the outer centres
    edges = np.deg2rad(
        np.concatenate([[lat[0] - 12.5], (lat[1:] + lat[:-1]) / 2, [lat[-1] + 12.5]])
    )
    w = np.diff(np.sin(edges))
    expected = (score * xr.DataArray(w, dims="lat", coords={"lat": score.lat})).sum(
        ["lat", "lon"]
    ) / (w.sum() * score.sizes["lon"])
    np.testing.assert_allclose(scoring.weighted_mean(score, ("lat", "lon")).values, expected.values)


def test_regions_select_the_right_points():
    forecast, truth = ensemble()
    score = scoring.crps(forecast, truth)
    weights = scoring.area_weights(score).broadcast_like(score)

    def by_hand(mask):
        return (score * weights).where(mask).sum(["lat", "lon"]) / weights.where(mask).sum(
            ["lat", "lon"]
        )

    tropics = scoring.weighted_mean(score, ("lat", "lon"), region="tropics")
    np.testing.assert_allclose(tropics.values, by_hand(abs(score.lat) <= 20).values)
    box = scoring.weighted_mean(score, ("lat", "lon"), region="0,50,330,30")  # wraps through 0
    in_box = (score.lat >= 0) & (score.lat <= 50) & ((score.lon >= 330) | (score.lon <= 30))
    np.testing.assert_allclose(box.values, by_hand(in_box).values)
    with pytest.raises(ValueError, match="neither one of"):
        scoring.weighted_mean(score, ("lat", "lon"), region="atlantis")


def test_spread_skill_is_one_for_a_perfect_ensemble_and_low_when_overconfident():
    forecast, truth = ensemble(members=5, init=200, n_lat=9, n_lon=16)
    ratio = scoring.ensemble_summary(
        forecast.to_dataset(), truth.to_dataset(), dims=("init_time", "lead_time", "lat", "lon")
    )
    assert float(ratio["spread_skill"].sel(variable="z500")) == pytest.approx(1.0, abs=0.03)
    forecast, truth = ensemble(members=5, init=200, n_lat=9, n_lon=16, perfect=False)
    ratio = scoring.ensemble_summary(
        forecast.to_dataset(), truth.to_dataset(), dims=("init_time", "lead_time", "lat", "lon")
    )
    assert float(ratio["spread_skill"].sel(variable="z500")) < 0.5


def test_rank_histogram_matches_xskillscore_and_is_flat_for_a_perfect_ensemble():
    forecast, truth = ensemble(members=5, init=100)
    dims = ["init_time", "lead_time", "lat", "lon"]
    ours = scoring.rank_histogram(forecast, truth, dims=tuple(dims))
    theirs = xs.rank_histogram(truth, forecast, dim=dims, member_dim="member")
    np.testing.assert_array_equal(ours.values, theirs.values)  # continuous data: no ties to break
    flat = scoring.rank_flatness(ours)
    assert float(flat["p_value"]) > 1e-3
    biased = scoring.rank_flatness(scoring.rank_histogram(forecast + 1.0, truth, dims=tuple(dims)))
    assert float(biased["p_value"]) < 1e-6


def test_rank_histogram_counts_every_point_with_ties():
    forecast, truth = ensemble(members=4)
    forecast = forecast.round()
    truth = truth.round()
    hist = scoring.rank_histogram(forecast, truth, seed=3)
    assert (
        hist.sum("rank") == truth.sizes["init_time"] * truth.sizes["lat"] * truth.sizes["lon"]
    ).all()
    xr.testing.assert_equal(hist, scoring.rank_histogram(forecast, truth, seed=3))
    assert not hist.equals(scoring.rank_histogram(forecast, truth, seed=4))


@pytest.mark.parametrize("chunks", [{"init_time": 1}, {"init_time": 2, "lat": 3, "member": 2}])
def test_rank_ties_do_not_depend_on_chunking(chunks):
    """Tied values (dry precipitation, rounded data) take their random rank from their
    position: the counts of a chunked input equal the in-memory ones, which equal a
    brute-force count with the same draws."""
    forecast, truth = ensemble(members=4)
    forecast, truth = forecast.round(), truth.round()
    eager = scoring.rank_histogram(forecast, truth, seed=3)
    lazy = scoring.rank_histogram(
        forecast.chunk(chunks),
        truth.chunk({d: c for d, c in chunks.items() if d != "member"}),
        seed=3,
    )
    xr.testing.assert_equal(lazy.compute(), eager)
    members = np.moveaxis(forecast.transpose(*truth.dims, "member").values, -1, 0)
    uniform = position_uniform(np.arange(truth.size).reshape(truth.shape), seed=3)
    below, ties = (members < truth.values).sum(0), (members == truth.values).sum(0)
    assert ties.sum() > truth.size // 4  # the test is about ties
    rank = below + np.floor(uniform * (ties + 1)).astype(int)
    by_lead = [
        np.bincount(rank[:, i].ravel(), minlength=5) for i in range(truth.sizes["lead_time"])
    ]
    np.testing.assert_array_equal(eager.transpose("lead_time", "rank").values, np.array(by_lead))


def test_brier_scores_match_xskillscore():
    forecast, truth = ensemble(members=8, init=50)
    threshold = xr.zeros_like(truth) + 1.0
    dims = ("init_time", "lead_time", "lat", "lon")
    ours = scoring.brier_scores(forecast, truth, threshold, dims=dims, region="global")
    outcome = truth > 1.0
    probability = (forecast > 1.0).mean("member")
    weights = scoring.area_weights(truth).broadcast_like(truth)
    theirs = xs.brier_score(outcome, probability, dim=list(dims), weights=weights)
    np.testing.assert_allclose(float(ours["brier"]), float(theirs), rtol=1e-10)
    theirs_fair = xs.brier_score(
        outcome, forecast > 1.0, member_dim="member", fair=True, dim=list(dims), weights=weights
    )
    np.testing.assert_allclose(float(ours["brier_fair"]), float(theirs_fair), rtol=1e-10)
    assert 0 < float(ours["brier_skill"]) < 1


def test_roc_area_matches_xskillscore():
    forecast, truth = ensemble(members=10, init=40)
    threshold = xr.zeros_like(truth) + 1.5
    probability = scoring.event_probability(forecast, threshold)
    outcome = scoring.event_outcome(truth, threshold)
    ours = scoring.roc(probability, outcome, members=10)
    theirs = xs.roc(
        outcome.astype(bool),
        probability,
        bin_edges="continuous",
        dim=list(truth.dims),
        return_results="area",
    )
    np.testing.assert_allclose(float(ours["auc"]), float(theirs), rtol=1e-10)
    assert 0.5 < float(ours["auc"]) < 1.0


def test_reliability_diagram_bins():
    probability = xr.DataArray([0.0, 0.05, 0.15, 0.95, 1.0, 1.0, np.nan], dims="x")
    outcome = xr.DataArray([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0], dims="x")
    diagram = scoring.reliability_diagram(probability, outcome, n_bins=10)
    assert diagram["count"].values.tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    np.testing.assert_allclose(diagram["observed_frequency"].values[[0, 1, 9]], [0.5, 0.0, 2 / 3])
    np.testing.assert_allclose(
        diagram["forecast_probability"].values[[0, 9]], [0.025, 0.95 / 3 + 2 / 3]
    )


def test_sigma_and_percentile_thresholds():
    rng = np.random.default_rng(0)
    sample = xr.DataArray(rng.standard_normal((20000, 3)), dims=("time", "x"))
    np.testing.assert_allclose(scoring.percentile_threshold(sample, 0.975).values, 1.96, atol=0.05)
    mean, std = sample.mean("time"), sample.std("time")
    np.testing.assert_allclose(scoring.sigma_threshold(mean, std, -2.0).values, -2.0, atol=0.05)


def test_small_inputs_are_scored_in_memory_as_the_lazy_path_scores_them(monkeypatch):
    from forecast.scoring import summary

    forecast, truth = ensemble(members=5)
    forecast, truth = forecast.round(1), truth.round(1)  # ties, for the rank histogram
    chunked = (
        forecast.chunk({"init_time": 2}).to_dataset(),
        truth.chunk({"init_time": 2}).to_dataset(),
    )
    in_memory = summary.score_ensemble(*chunked)
    assert all(table.chunks is None for table in in_memory.data_vars.values())
    monkeypatch.setattr(summary, "IN_MEMORY_BYTES", 0)
    lazy = summary.score_ensemble(*chunked)
    assert lazy["crps"].chunks is not None
    xr.testing.assert_allclose(lazy.compute(), in_memory)
