"""Precipitation's model space: the transform, its labels, and the climatology it implies."""

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from forecast.scoring.metrics import crps_climatology, crps_gaussian
from pipelines.errors import DataError
from pipelines.transforms import (
    TRANSFORM_ATTR,
    Power,
    climatological_value,
    from_model_space,
    stacked_from_model_space,
    to_model_space,
    transform_of,
)


def test_the_cube_root_round_trips_and_never_returns_a_negative_amount():
    transform = transform_of("tp")
    assert transform == Power(1e-3, "m", 1 / 3)
    x = np.array([0.0, 1e-6, 1e-4, 3e-3, 0.05, np.nan])
    np.testing.assert_allclose(transform.inverse(transform.forward(x)), x, rtol=1e-12, atol=0)
    np.testing.assert_allclose(transform.forward(x), np.cbrt(x / 1e-3))
    y = np.linspace(-5, 5, 101)
    back = transform.inverse(y)
    assert back.min() == 0.0 and np.all(back[y <= 0] == 0.0) and np.all(back[y > 0] > 0)
    single = xr.DataArray(transform.forward(x.astype(np.float32)), dims="x")
    assert transform.inverse(single).dtype == np.float32  # stores keep their precision


def test_datasets_move_between_spaces_with_labels():
    ds = xr.Dataset(
        {
            "tp": ("x", np.array([0.0, 2e-3]), {"units": "m"}),
            "z500": ("x", np.array([5e4, 5.1e4]), {"units": "m2 s-2"}),
        }
    )
    model = to_model_space(ds)
    assert model["tp"].attrs[TRANSFORM_ATTR] == "(x / 0.001) ** 0.333333"
    xr.testing.assert_identical(model["z500"], ds["z500"])
    back = from_model_space(model)
    xr.testing.assert_allclose(back, ds)
    assert back["tp"].attrs == {"units": "m"}
    stacked = np.stack([model["tp"].values, model["z500"].values])
    np.testing.assert_allclose(
        stacked_from_model_space(stacked, ["tp", "z500"], 0), [[0.0, 2e-3], [5e4, 5.1e4]]
    )


def model_space_climatology(mean: float, std: float) -> xr.DataArray:
    da = xr.DataArray([mean, std], dims="statistic", coords={"statistic": ["mean", "std"]})
    return da.rename("tp").assign_attrs({TRANSFORM_ATTR: "(x / 0.001) ** 0.333333"})


def crps_by_integration(mean: float, std: float, observed: float) -> float:
    """int (F(x) - 1{x >= y})^2 dx for F(x) = Phi((T(x) - mean) / std), x >= 0 (its point
    mass at zero is F(0) = Phi(-mean / std)), by the trapezoid rule on a fine log grid."""
    transform = transform_of("tp")
    top = np.log10(float(transform.inverse(mean + 12 * std)) + observed)
    x = np.union1d(np.concatenate([[0.0], np.logspace(-12, top, 400_001)]), [observed])
    cdf = stats.norm.cdf((transform.forward(x) - mean) / std)
    return float(np.trapezoid((cdf - (x >= observed)) ** 2, x))


@pytest.mark.parametrize(
    ("mean", "std", "observed"), [(0.5, 1.2, 0.0), (1.0, 0.5, 3e-3), (-0.3, 1.0, 1e-4)]
)
def test_crps_of_a_skewed_climatology_matches_integration(mean, std, observed):
    clim = model_space_climatology(mean, std)
    value = float(crps_climatology(clim, xr.DataArray(observed)))
    assert value == pytest.approx(crps_by_integration(mean, std, observed), rel=0.01)


def test_crps_of_a_physical_climatology_is_the_gaussian_closed_form():
    clim = xr.DataArray([5.0, 2.0], dims="statistic", coords={"statistic": ["mean", "std"]})
    truth = xr.DataArray([4.0, 9.0], dims="x")
    expected = crps_gaussian(xr.DataArray(5.0), xr.DataArray(2.0), truth)
    xr.testing.assert_allclose(crps_climatology(clim.rename("z500"), truth), expected)


def test_climatological_values_are_quantiles_in_physical_units():
    clim = model_space_climatology(1.0, 0.5)
    np.testing.assert_allclose(float(climatological_value(clim, 2.0)), 1e-3 * 2.0**3, rtol=1e-12)
    assert float(climatological_value(clim, -3.0)) == 0.0


def test_a_climatology_in_another_space_is_refused():
    """A store prepared when tp was modelled otherwise would be mapped back wrongly."""
    clim = model_space_climatology(1.0, 0.5).assign_attrs({TRANSFORM_ATTR: "log1p(x / 0.0001)"})
    with pytest.raises(DataError, match="tp in log1p.*tp in \\(x / 0.001\\).*prepare it again"):
        climatological_value(clim, 1.0)
