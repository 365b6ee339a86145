"""The quantile map: its estimator against numpy, its effect against closed forms, and
its fit on a store against quantiles computed from the store directly."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import xarray as xr
from scipy import stats

from forecast.calibration import fit_on_training_data
from forecast.checkpoint import load_checkpoint, read_checkpoint
from forecast.generate import generate
from forecast.quantile_map import LEVELS, fit_quantile_map, weighted_quantiles
from pipelines.store import open_complete
from pipelines.transforms import transform_of


def test_weighted_quantiles_are_numpys_inverted_cdf_and_weights_are_repetitions():
    rng = np.random.default_rng(0)
    values = np.round(rng.gamma(0.5, 2.0, 997), 2)  # ties
    levels = np.asarray(LEVELS)
    uniform = np.full(values.size, 1 / values.size)
    expected = np.quantile(values, levels, method="inverted_cdf")
    np.testing.assert_array_equal(weighted_quantiles(values, uniform, levels), expected)
    # where a level times n is a whole number k, the k-th order statistic exactly (the
    # float sum of n weights 1/n falls short of k/n by a rounding error)
    sample = rng.normal(size=100)
    exact = [int(np.ceil(Fraction(str(p)) * 100)) - 1 for p in LEVELS]
    np.testing.assert_array_equal(
        weighted_quantiles(sample, np.full(100, 0.01), levels), np.sort(sample)[exact]
    )
    # integer weights are repeated values
    counts = rng.integers(1, 4, values.size)
    repeated = np.repeat(values, counts)
    np.testing.assert_array_equal(
        weighted_quantiles(values, counts / counts.sum(), levels),
        np.quantile(repeated, levels, method="inverted_cdf"),
    )


def test_a_fitted_map_puts_fresh_draws_on_the_target_distribution():
    """Generated y ~ N(0.3, 1.4^2), target max(N(0, 1), 0) (dry below zero): mapped fresh
    draws have the target's dry fraction 1/2 and its quantiles Phi^-1(p)."""
    rng = np.random.default_rng(1)
    n = 200_000
    generated = rng.normal(0.3, 1.4, (1, 1, n)).astype(np.float32)
    target = np.maximum(rng.normal(0.0, 1.0, (1, 1, n)), 0.0)
    quantile_map = fit_quantile_map(
        generated, target, np.full(n, 1 / n), ["tp"], np.array([1.0]), inits=1, members=1
    )
    fresh = rng.normal(0.3, 1.4, n).astype(np.float32)
    mapped = quantile_map.map_values(fresh, 1.0, "tp")
    assert abs(np.mean(mapped <= 0) - 0.5) < 0.01
    for p in (0.9, 0.95, 0.99):
        assert np.quantile(mapped, p) == pytest.approx(stats.norm.ppf(p), rel=0.03)
    # monotone: ranks kept
    order = np.argsort(fresh)
    assert np.all(np.diff(mapped[order]) >= 0)
    # beyond the top level: the top level's correction carried on
    top_generated, top_target = quantile_map.generated[0][0][-1], quantile_map.target[0][0][-1]
    far = np.array([top_generated + 3.0], dtype=np.float32)
    assert quantile_map.map_values(far, 1.0, "tp")[0] == pytest.approx(top_target + 3.0, abs=1e-5)
    # the nearest lead of the map serves other leads
    np.testing.assert_array_equal(quantile_map.map_values(fresh, 7.0, "tp"), mapped)


def test_only_transformed_variables_are_mapped():
    n = 1000
    values = np.random.default_rng(2).normal(size=(1, 2, n))
    quantile_map = fit_quantile_map(
        values, values + 1, np.full(n, 1 / n), ["tp", "z500"], np.array([1.0]), 1, 1
    )
    assert quantile_map.variables == ("tp",)
    block = np.random.default_rng(3).normal(size=(1, 4, 2, 3, 5)).astype(np.float32)
    mapped = quantile_map.apply(block.copy(), ["z500", "tp"], np.array([1.0]), var_axis=2)
    np.testing.assert_array_equal(mapped[:, :, 0], block[:, :, 0])
    assert not np.array_equal(mapped[:, :, 1], block[:, :, 1])


class _SeedMean(torch.nn.Module):
    """A model whose members are the seed mean (residual zero): the generated quantiles
    are then those of the seeds' mean, computable from the store."""

    def noise_shape(self, shape):
        return shape

    def sample(self, noise, condition, steps=None, algorithm=None, generators=None):
        return torch.zeros_like(noise)


def _model_space(store, group=None, members=None):
    ds = xr.open_zarr(store, group=group, consolidated=False)["tp"]
    if members is not None:
        ds = ds.isel(member=members)
    return transform_of("tp").forward(ds.isel(lead_time=slice(1, None)).values.astype(np.float64))


@pytest.mark.parametrize("truth_fraction", [0.0, 1.0, 0.5])
def test_the_fit_targets_what_training_drew_from(tiny_checkpoint, tiny_prepared, truth_fraction):
    """Against quantiles of the store's members, its reanalysis, or both weighted by the
    truth fraction, read and transformed here; the generated side against the seeds' mean."""
    store = tiny_prepared["world-reforecast"]
    trained = read_checkpoint(tiny_checkpoint)
    n_init = xr.open_zarr(store, consolidated=False).sizes["init_time"]
    fitted = fit_on_training_data(
        _SeedMean(), trained, store, truth_fraction=truth_fraction, inits=n_init, progress=False
    )
    levels = np.asarray(fitted.levels)
    members = _model_space(store)  # (init, lead, member, lat, lon)
    truth = _model_space(store, group="truth")  # (init, lead, lat, lon)
    for j in range(members.shape[1]):
        pooled_members = members[:, j].ravel()
        pooled_truth = truth[:, j].ravel()
        values = np.concatenate([pooled_members, pooled_truth])
        weights = np.concatenate(
            [
                np.full(pooled_members.size, (1 - truth_fraction) / pooled_members.size),
                np.full(pooled_truth.size, truth_fraction / pooled_truth.size),
            ]
        )
        expected = weighted_quantiles(values, weights, levels)
        np.testing.assert_allclose(fitted.target[j][0], expected, atol=2e-5)
        seed_mean = members[:, j, :2].mean(axis=1)  # the first two members are the seeds
        expected = np.quantile(np.repeat(seed_mean.ravel(), 6), levels, method="inverted_cdf")
        np.testing.assert_allclose(fitted.generated[j][0], expected, atol=2e-5)


def test_training_fits_a_map_and_generation_applies_it(tiny_checkpoint, tiny_prepared, tmp_path):
    """The checkpoint carries a map of tp; generated tp is the unmapped tp put through it,
    the other variables unchanged; --no-quantile-map is another output."""
    trained = read_checkpoint(tiny_checkpoint)
    assert trained.quantile_map is not None and trained.quantile_map.variables == ("tp",)
    _, loaded = load_checkpoint(tiny_checkpoint)
    assert loaded.quantile_map == trained.quantile_map
    common = dict(n_members=3, n_seeds=2, inits=[0], leads=["24h"], progress=False)
    source = tiny_prepared["world-operational"]
    mapped = open_complete(generate(tiny_checkpoint, source, tmp_path / "a.zarr", **common))
    raw = open_complete(
        generate(tiny_checkpoint, source, tmp_path / "b.zarr", quantile_mapping=False, **common)
    )
    assert mapped.attrs["quantile_map"] == "tp" and raw.attrs["quantile_map"] == "none"
    for name in raw.data_vars:
        if name != "tp":
            np.testing.assert_array_equal(mapped[name].values, raw[name].values)
    power = transform_of("tp")
    # the raw members were clamped at zero: only their wet values can be compared
    raw_tp, mapped_tp = raw["tp"].values, mapped["tp"].values
    wet = raw_tp > 0
    by_hand = power.inverse(
        trained.quantile_map.map_values(power.forward(raw_tp[wet]).astype(np.float32), 1.0, "tp")
    )
    np.testing.assert_allclose(mapped_tp[wet], by_hand, rtol=1e-4, atol=1e-9)
    assert np.all(mapped_tp >= 0)
