"""Properties every CRPS estimate must have, on random ensembles (hypothesis)."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forecast.scoring.kernels import crps_ensemble

values = st.floats(-1e4, 1e4, allow_nan=False, width=64)
ensembles = st.integers(1, 12).flatmap(
    lambda m: st.tuples(
        arrays(np.float64, (5, m), elements=values), arrays(np.float64, (5,), elements=values)
    )
)
SETTINGS = settings(max_examples=60, deadline=None)


def _scale(forecast, obs):
    return 1.0 + np.abs(forecast).max() + np.abs(obs).max()


@SETTINGS
@given(ensembles)
def test_crps_is_never_negative(case):
    forecast, obs = case
    tolerance = 1e-9 * _scale(forecast, obs)
    for estimator in ("nrg", "fair"):
        assert (crps_ensemble(forecast, obs, estimator) >= -tolerance).all()


@SETTINGS
@given(arrays(np.float64, (7,), elements=values), arrays(np.float64, (7,), elements=values))
def test_one_member_gives_the_absolute_error(member, obs):
    for estimator in ("nrg", "fair"):
        np.testing.assert_allclose(
            crps_ensemble(member[:, None], obs, estimator), np.abs(member - obs), rtol=1e-12
        )


@SETTINGS
@given(ensembles, st.randoms(use_true_random=False))
def test_member_order_does_not_matter(case, random):
    forecast, obs = case
    order = list(range(forecast.shape[1]))
    random.shuffle(order)
    for estimator in ("nrg", "fair"):
        np.testing.assert_allclose(
            crps_ensemble(forecast[:, order], obs, estimator),
            crps_ensemble(forecast, obs, estimator),
            rtol=1e-9,
            atol=1e-9 * _scale(forecast, obs),
        )


@SETTINGS
@given(ensembles, st.floats(-1e4, 1e4))
def test_shifting_forecast_and_truth_together_changes_nothing(case, shift):
    forecast, obs = case
    tolerance = 1e-9 * (_scale(forecast, obs) + abs(shift))
    for estimator in ("nrg", "fair"):
        np.testing.assert_allclose(
            crps_ensemble(forecast + shift, obs + shift, estimator),
            crps_ensemble(forecast, obs, estimator),
            atol=tolerance,
        )


@SETTINGS
@given(ensembles)
def test_fair_is_never_above_standard(case):
    """CRPS_nrg - CRPS_f = S (1/(M (M - 1)) - 1/M^2) with S = sum_i (2i - M - 1) x_(i), half
    the sum of pairwise distances: never negative."""
    forecast, obs = case
    fair, standard = crps_ensemble(forecast, obs, "fair"), crps_ensemble(forecast, obs, "nrg")
    assert (fair <= standard + 1e-9 * _scale(forecast, obs)).all()


@SETTINGS
@given(ensembles)
def test_numpy_and_torch_agree(case):
    forecast, obs = case
    for estimator in ("nrg", "fair"):
        expected = crps_ensemble(forecast, obs, estimator)
        got = crps_ensemble(torch.from_numpy(forecast), torch.from_numpy(obs), estimator)
        np.testing.assert_allclose(
            got.numpy(), expected, rtol=1e-9, atol=1e-9 * _scale(forecast, obs)
        )
