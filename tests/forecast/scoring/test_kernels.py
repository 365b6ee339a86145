"""The CRPS kernel against closed forms, brute force and the reference libraries."""

import numpy as np
import properscoring
import pytest
import scoringrules
import torch
from scipy import stats

from forecast.scoring.kernels import (
    brier,
    crps_ensemble,
    crps_gaussian,
    position_uniform,
    rank_of_obs,
)


def brute_force_crps(members: np.ndarray, obs: float, fair: bool) -> float:
    """O(M^2) energy form on the valid members: E|X - y| - 1/2 E|X - X'|."""
    x = members[~np.isnan(members)]
    m = x.size
    if m == 0 or np.isnan(obs):
        return np.nan
    pairs = np.abs(x[:, None] - x[None, :]).sum()
    denominator = m * (m - 1) if fair and m > 1 else m * m
    return np.abs(x - obs).mean() - 0.5 * pairs / denominator


@pytest.mark.parametrize(
    ("obs", "members", "expected"),
    [
        (0.0, [0, 1], 0.25),
        (0.0, [0, 0, 1], 1 / 9),
        (1.0, [0, 0, 1], 4 / 9),
        (0.0, [-1, 0, 0, 1], 1 / 8),
    ],
)
def test_properscoring_toy_cases(obs, members, expected):
    got = crps_ensemble(np.array(members, float), np.array(obs), estimator="nrg")
    assert got == pytest.approx(expected, abs=1e-12)
    assert properscoring.crps_ensemble(obs, members) == pytest.approx(expected)


def random_ensembles(seed=0, n=300, m=7):
    rng = np.random.default_rng(seed)
    forecast = rng.standard_normal((n, m))
    forecast[:40] = np.round(forecast[:40])  # ties
    obs = rng.standard_normal(n)
    obs[40:60] = forecast[40:60, 2]  # obs tied with a member
    forecast[60:120, rng.integers(0, m, 60)] = np.nan  # NaN members
    forecast[120:125] = np.nan  # all members NaN
    obs[125:128] = np.nan  # NaN obs
    return forecast, obs


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_against_brute_force_with_nans_and_ties(estimator):
    forecast, obs = random_ensembles()
    got = crps_ensemble(forecast, obs, estimator=estimator)
    expected = np.array(
        [brute_force_crps(f, o, estimator == "fair") for f, o in zip(forecast, obs, strict=True)]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, equal_nan=True)
    assert np.isnan(got[120:128]).all()


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_against_scoringrules_with_the_estimator_pinned(estimator):
    rng = np.random.default_rng(1)
    forecast, obs = rng.standard_normal((500, 11)), rng.standard_normal(500)
    expected = scoringrules.crps_ensemble(
        obs, forecast, m_axis=-1, estimator=estimator, backend="numpy"
    )
    np.testing.assert_allclose(
        crps_ensemble(forecast, obs, estimator=estimator), expected, rtol=1e-10
    )


def test_against_properscoring_with_nans():
    forecast, obs = random_ensembles(seed=2)
    keep = ~np.isnan(obs) & ~np.all(np.isnan(forecast), axis=1)
    expected = properscoring.crps_ensemble(obs[keep], forecast[keep])
    np.testing.assert_allclose(
        crps_ensemble(forecast[keep], obs[keep], estimator="nrg"), expected, rtol=1e-10
    )


def test_single_member_is_absolute_error():
    rng = np.random.default_rng(3)
    forecast, obs = rng.standard_normal((50, 1)), rng.standard_normal(50)
    for estimator in ("nrg", "fair"):
        np.testing.assert_allclose(
            crps_ensemble(forecast, obs, estimator=estimator), np.abs(forecast[:, 0] - obs)
        )


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_shift_invariance_with_nan_members(estimator):
    forecast, obs = random_ensembles(seed=4)
    shifted = crps_ensemble(forecast + 1234.5, obs + 1234.5, estimator=estimator)
    np.testing.assert_allclose(
        shifted, crps_ensemble(forecast, obs, estimator=estimator), atol=1e-9, equal_nan=True
    )


def test_fair_estimator_is_unbiased_for_the_gaussian_crps():
    rng = np.random.default_rng(5)
    m, n = 4, 400_000
    forecast, obs = rng.standard_normal((n, m)), rng.standard_normal(n)
    exact = crps_gaussian(0.0, 1.0, obs)
    fair = crps_ensemble(forecast, obs, estimator="fair")
    difference = fair - exact
    standard_error = difference.std() / np.sqrt(n)
    assert abs(difference.mean()) < 4 * standard_error
    # the standard estimator is biased up by E|X-X'|/(2M) = 1/(sqrt(pi) M) for N(0,1)
    bias = crps_ensemble(forecast, obs, estimator="nrg").mean() - exact.mean()
    assert bias == pytest.approx(1 / (np.sqrt(np.pi) * m), rel=0.05)


def test_gaussian_closed_form_against_numerical_integral():
    mu, sigma, y = 0.3, 1.7, -0.4
    from scipy.integrate import quad

    below, _ = quad(lambda t: stats.norm.cdf(t, mu, sigma) ** 2, -np.inf, y)
    above, _ = quad(lambda t: (1 - stats.norm.cdf(t, mu, sigma)) ** 2, y, np.inf)
    assert crps_gaussian(mu, sigma, y) == pytest.approx(below + above, rel=1e-8)
    assert float(
        crps_gaussian(torch.tensor(mu), torch.tensor(sigma), torch.tensor(y))
    ) == pytest.approx(crps_gaussian(mu, sigma, y), rel=1e-6)


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_torch_matches_numpy_and_is_differentiable(estimator):
    forecast, obs = random_ensembles(seed=6)
    expected = crps_ensemble(forecast, obs, estimator=estimator)
    members = torch.tensor(forecast, requires_grad=True)
    got = crps_ensemble(members, torch.tensor(obs), estimator=estimator)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-10, equal_nan=True)
    finite = torch.isfinite(got)
    got[finite].sum().backward()
    assert torch.isfinite(members.grad).all()
    # the gradient is the true derivative (away from ties, where the CRPS is smooth)
    x = torch.tensor(
        [[0.1, 1.3, 5.2, -2.0], [0.4, 0.2, 0.9, 3.3]], dtype=torch.float64, requires_grad=True
    )
    y = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: crps_ensemble(a, b, estimator=estimator), (x, y))


def test_rank_ties_are_broken_at_random_uniformly():
    forecast = np.zeros((20000, 3))
    obs = np.zeros(20000)
    ranks = rank_of_obs(forecast, obs, position_uniform(np.arange(20000), seed=0))
    counts = np.bincount(ranks, minlength=4)
    assert stats.chisquare(counts).pvalue > 1e-3


def splitmix64(seed: int, count: int) -> list[int]:
    """The reference generator, step by step in Python integers (Steele et al. 2014)."""
    state, out, mask = seed, [], 2**64 - 1
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**63 + 7])
def test_position_uniform_is_splitmix64_by_index(seed):
    expected = np.array([(z >> 11) * 2.0**-53 for z in splitmix64(seed, 1000)])
    got = position_uniform(np.arange(1000), seed=seed)
    np.testing.assert_array_equal(got, expected)
    # any index alone gives the same draw: nothing depends on the neighbours or the order
    np.testing.assert_array_equal(position_uniform(np.array([999, 3]), seed), expected[[999, 3]])
    if seed == 0:
        assert splitmix64(0, 1)[0] == 0xE220A8397B1DCDAF  # the published first output
    assert stats.kstest(position_uniform(np.arange(50_000), seed), "uniform").pvalue > 1e-3


def test_fair_brier_against_its_definition():
    p, o, m = np.array([0.0, 0.25, 1.0]), np.array([0.0, 1.0, 1.0]), np.array([4, 4, 4])
    np.testing.assert_allclose(brier(p, o, m), (p - o) ** 2 - p * (1 - p) / 3)


def large_ensembles(members: int, n: int = 203, seed: int = 5, dtype=np.float64):
    """Ensembles longer than one sorted run (256): NaN members (none in some rows, a whole
    run's worth in others), ties, all-NaN rows and NaN observations."""
    rng = np.random.default_rng(seed + members)
    forecast = rng.standard_normal((n, members)) * 600 + 5.5e4  # geopotential-sized values
    forecast[:20] = np.round(forecast[:20] / 100) * 100  # many ties
    holes = rng.random(forecast.shape) < 0.05
    holes[20:40] = False
    forecast[holes] = np.nan
    forecast[40:45, : min(members, 300)] = np.nan  # a whole run missing
    forecast[45:47] = np.nan
    obs = rng.standard_normal(n) * 600 + 5.5e4
    obs[47] = np.nan
    obs[48:52] = np.nanmin(forecast[48:52], axis=1)  # obs tied with a member
    return forecast.astype(dtype), obs.astype(dtype)


@pytest.mark.parametrize("members", [255, 256, 257, 300, 512, 513, 1000, 2048, 2100])
def test_large_ensembles_against_properscoring_and_brute_force(members):
    """The merged runs give properscoring's CRPS to 1e-12 (standard) and the O(M^2) energy
    form's (fair), whatever the number of runs (1 to 9) and however the NaN fall."""
    from forecast.scoring.numba_kernels import crps_rows

    forecast, obs = large_ensembles(members)
    expected = properscoring.crps_ensemble(obs, forecast)
    got = crps_rows(forecast, obs, fair=False)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[45:48]).all() and np.isfinite(got[48:]).all()
    fair = [brute_force_crps(f, o, fair=True) for f, o in zip(forecast[::7], obs[::7], strict=True)]
    np.testing.assert_allclose(crps_rows(forecast, obs, fair=True)[::7], fair, rtol=1e-11)


@pytest.mark.parametrize("members", [50, 512, 2048])
def test_large_float32_ensembles_are_scored_exactly(members):
    """float32 members are scored as the float64 numbers they are (sums in float64)."""
    from forecast.scoring.numba_kernels import crps_rows

    forecast, obs = large_ensembles(members, dtype=np.float32)
    got = crps_rows(forecast, obs, fair=False)
    assert got.dtype == np.float32
    expected = properscoring.crps_ensemble(obs.astype(np.float64), forecast.astype(np.float64))
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=2e-7, equal_nan=True)


@pytest.mark.parametrize("rows", [1, 3, 4, 5, 129, 1000])
def test_threads_blocks_and_lanes_do_not_change_the_result(rows):
    """Rows are scored four at a time, in blocks, over threads: any split gives the same."""
    from forecast.scoring import numba_kernels

    forecast, obs = large_ensembles(600)
    pick = np.arange(rows) * 37 % len(obs)  # every kind of row, in any number
    forecast, obs = forecast[pick], obs[pick]
    one = numba_kernels.crps_rows(forecast, obs, fair=True, threads=1)
    for threads in (2, 3):
        np.testing.assert_array_equal(
            numba_kernels.crps_rows(forecast, obs, fair=True, threads=threads), one
        )
    each = [
        numba_kernels.crps_rows(forecast[i : i + 1], obs[i : i + 1], fair=True) for i in range(rows)
    ]
    np.testing.assert_allclose(np.concatenate(each), one, rtol=1e-14, equal_nan=True)


def test_infinite_members_and_observations():
    """An infinite member makes the score undefined (NaN, as the formula gives); an
    infinite observation makes it infinite."""
    from forecast.scoring.numba_kernels import crps_rows

    forecast, obs = large_ensembles(512)
    forecast, obs = forecast[60:66], obs[60:66]
    forecast[0, 7] = np.inf
    forecast[1, 300] = -np.inf
    obs[2] = np.inf
    got = crps_rows(forecast, obs, fair=False)
    assert np.isnan(got[:2]).all() and got[2] == np.inf
    reference = crps_ensemble(torch.from_numpy(forecast[:3]), torch.from_numpy(obs[:3]), "nrg")
    assert torch.isnan(reference[:2]).all() and reference[2] == np.inf
    np.testing.assert_allclose(
        got[3:], properscoring.crps_ensemble(obs[3:], forecast[3:]), rtol=1e-12
    )
