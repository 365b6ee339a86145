import numpy as np
import pytest
import xarray as xr

from pipelines.grid import cell_area_weights, regular_grid
from pipelines.regrid import lat_weights, lon_weights, regrid_conservative


def field_on(lat, lon, seed=0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((2, lat.size, lon.size)) + np.cos(np.deg2rad(lat))[:, None] * 3
    return xr.DataArray(values, dims=("time", "lat", "lon"), coords={"lat": lat, "lon": lon})


def global_mean(da: xr.DataArray) -> np.ndarray:
    return da.weighted(cell_area_weights(da["lat"])).mean(["lat", "lon"]).values


ERA5_LAT = np.linspace(-90, 90, 61)
ERA5_LON = np.arange(0, 360, 3.0)


@pytest.mark.parametrize("resolution", [6.0, 4.5, 10.0, 1.5])
def test_conserves_area_weighted_global_mean(resolution):
    source = field_on(ERA5_LAT, ERA5_LON)
    lat, lon = regular_grid(resolution)
    out = regrid_conservative(source, lat, lon)
    assert out.sizes["lat"] == lat.size and out.sizes["lon"] == lon.size
    np.testing.assert_allclose(global_mean(out), global_mean(source), rtol=1e-5)


def test_weights_against_brute_force_cell_overlaps():
    src_lat, dst_lat = np.linspace(-90, 90, 7), regular_grid(45.0)[0]
    weights = lat_weights(src_lat, dst_lat)
    # brute force: sample each destination band finely in sin(lat) and count source cells
    for i, (lo, hi) in enumerate(zip(np.arange(-90, 90, 45), np.arange(-45, 91, 45), strict=True)):
        mu = np.linspace(np.sin(np.deg2rad(lo)), np.sin(np.deg2rad(hi)), 200001)[:-1]
        lats = np.rad2deg(np.arcsin(mu))
        nearest = np.abs(lats[:, None] - src_lat[None, :]).argmin(axis=1)
        counts = np.bincount(nearest, minlength=src_lat.size) / mu.size
        np.testing.assert_allclose(weights[i], counts, atol=1e-4)


def test_longitude_is_periodic():
    weights = lon_weights(np.arange(0, 360, 10.0), np.array([0.0, 180.0]))
    # the destination cell centred on 0 spans 270..90 and takes cells from both ends of the source
    assert weights[0, 0] > 0 and weights[0, -1] > 0 and weights[0, 1] > 0
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)


def test_constant_field_stays_constant_and_nans_are_skipped():
    source = xr.full_like(field_on(ERA5_LAT, ERA5_LON), 7.0)
    source[0, 10, 10] = np.nan
    lat, lon = regular_grid(6.0)
    out = regrid_conservative(source, lat, lon)
    np.testing.assert_allclose(out.values, 7.0, rtol=1e-6)


def test_lazy_on_dask():
    source = field_on(ERA5_LAT, ERA5_LON).chunk({"time": 1})
    out = regrid_conservative(source, *regular_grid(6.0))
    assert out.chunks is not None
    np.testing.assert_allclose(
        out.values, regrid_conservative(source.compute(), *regular_grid(6.0)).values, rtol=1e-6
    )


def dst_first(resolution: float) -> float:
    return regular_grid(resolution)[0][0]


def gaussian_latitudes(n: int) -> np.ndarray:
    """The latitudes of a regular Gaussian grid of n rows (the Gauss-Legendre nodes)."""
    return np.rad2deg(np.arcsin(np.polynomial.legendre.leggauss(n)[0]))


@pytest.mark.parametrize(("rows", "resolution"), [(96, 1.0), (180, 0.25), (640, 0.25)])
def test_a_global_gaussian_grid_covers_the_globe_and_regrids_conservatively(rows, resolution):
    """A regular Gaussian grid (N48: outer rows at +-88.57, 1.86 degrees apart, so half a
    spacing beyond them falls short of the 1-degree grid's outer centres at +-89.5) has its
    outer cell edges at the poles: it regrids to any finer global grid, keeps a constant,
    and keeps the global mean the Gaussian quadrature gives (exact for this smooth field)
    to the accuracy of cell areas approximated between nodes."""
    lat, lon = gaussian_latitudes(rows), np.arange(2 * rows) * 180 / rows
    edges = np.rad2deg(
        np.arcsin(np.clip(np.cumsum(np.r_[-1, np.polynomial.legendre.leggauss(rows)[1]]), -1, 1))
    )
    assert lat[0] > -90 + 0.1 and edges[0] == -90
    smooth = xr.DataArray(
        2
        + np.sin(np.deg2rad(lat))[:, None] ** 2
        + np.cos(np.deg2rad(lon))[None, :] * np.cos(np.deg2rad(lat))[:, None],
        dims=("lat", "lon"),
        coords={"lat": lat, "lon": lon},
    )
    dst_lat, dst_lon = regular_grid(resolution)
    out = regrid_conservative(smooth, dst_lat, dst_lon)
    assert out.shape == (dst_lat.size, dst_lon.size)
    exact = 2 + 1 / 3  # the area mean of 2 + sin^2(lat) (+ a wave of zero mean)
    weights = np.polynomial.legendre.leggauss(rows)[1]
    np.testing.assert_allclose((smooth.mean("lon") * weights).sum() / 2, exact, rtol=1e-12)
    np.testing.assert_allclose(global_mean(out), exact, rtol=1e-4)
    constant = regrid_conservative(xr.full_like(smooth, 5.0), dst_lat, dst_lon)
    np.testing.assert_allclose(constant.values, 5.0, rtol=1e-12)
