"""Zonal spectra against Parseval, a pure wave, and a smoothing that must lose energy;
spherical-harmonic spectra against scipy's harmonics and torch-harmonics' quadratures."""

import numpy as np
import pytest
import xarray as xr

from forecast.scoring.spectra import (
    covers_sphere,
    is_global,
    latitude_quadrature,
    spectral_ratio,
    spherical_spectrum,
    zonal_spectrum,
)
from pipelines.errors import DataError

LAT = np.linspace(-80, 80, 9)
LON = np.arange(0, 360, 360 / 64)


def grid(values):
    return xr.DataArray(values, dims=("member", "lat", "lon"), coords={"lat": LAT, "lon": LON})


def test_the_spectrum_sums_to_the_mean_square_parseval():
    rng = np.random.default_rng(0)
    field = grid(rng.normal(size=(3, 9, 64)))
    spectrum = zonal_spectrum(field, average=("member",))
    weights = np.cos(np.deg2rad(LAT))
    mean_square = ((field**2).mean("lon").mean("member") * weights).sum() / weights.sum()
    assert float(spectrum.sum("wavenumber")) == pytest.approx(float(mean_square), rel=1e-12)
    odd = xr.DataArray(rng.normal(size=(9, 63)), dims=("lat", "lon"), coords={"lat": LAT})
    assert float(zonal_spectrum(odd).sum()) == pytest.approx(
        float((odd**2).mean("lon").weighted(np.cos(np.deg2rad(odd["lat"]))).mean()), rel=1e-12
    )


def test_a_pure_wave_has_all_its_energy_at_its_wavenumber():
    wave = 3.0 * np.cos(np.deg2rad(5 * LON) + 0.7)
    spectrum = zonal_spectrum(grid(np.broadcast_to(wave, (1, 9, 64)).copy()), average=("member",))
    assert float(spectrum.sel(wavenumber=5)) == pytest.approx(4.5, rel=1e-12)  # A^2 / 2
    assert float(spectrum.drop_sel(wavenumber=5).max()) < 1e-20
    band = zonal_spectrum(grid(np.broadcast_to(wave, (1, 9, 64)).copy()), lat_band=(30, 60))
    assert band.sizes["wavenumber"] == 33


def test_a_smoothed_field_keeps_its_large_scales_and_loses_its_small_ones():
    rng = np.random.default_rng(1)
    field = grid(rng.normal(size=(4, 9, 64)))
    smooth = (field.roll(lon=1) + field + field.roll(lon=-1)) / 3  # a 3-point running mean
    bands = {"large": (1, 3), "small": (20, 32)}
    ratio = spectral_ratio(
        zonal_spectrum(smooth, average=("member",)),
        zonal_spectrum(field, average=("member",)),
        bands,
    )
    # the running mean multiplies power at k by ((1 + 2 cos(2 pi k / 64)) / 3)^2
    assert float(ratio.sel(band="large")) > 0.97
    assert float(ratio.sel(band="small")) < 0.1


# --- spherical-harmonic spectrum ---

SPHERE_GRIDS = {
    "cell-centred 32x64": (-90 + 180 / 32 * (np.arange(32) + 0.5), 64),
    "with poles 61x120": (np.linspace(-90, 90, 61), 120),
    "with poles 33x64": (np.linspace(90, -90, 33), 64),  # descending, as in ERA5
}


def harmonics_field(lat, n_lon, terms):
    """sum of a Re Y_lm (scipy's orthonormal harmonics) for (a, l, m) in ``terms``."""
    from scipy.special import sph_harm_y

    lon = np.arange(n_lon) * 360 / n_lon
    colatitude = np.deg2rad(90 - lat)[:, None]
    longitude = np.deg2rad(lon)[None, :]
    values = sum(
        a * np.real(sph_harm_y(degree, m, colatitude, longitude)) for a, degree, m in terms
    )
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


@pytest.mark.parametrize("name", SPHERE_GRIDS)
def test_a_harmonic_has_its_energy_at_its_degree(name):
    """Re Y_lm has mean square 1 / (8 pi) for m > 0 and 1 / (4 pi) for m = 0 (scipy's
    normalisation), all at degree l."""
    lat, n_lon = SPHERE_GRIDS[name]
    field = harmonics_field(lat, n_lon, [(2.0, 7, 3), (0.5, 12, 0), (1.0, 1, 1)])
    spectrum = spherical_spectrum(field)
    expected = {7: 4 / (8 * np.pi), 12: 0.25 / (4 * np.pi), 1: 1 / (8 * np.pi)}
    for degree, energy in expected.items():
        assert float(spectrum.sel(degree=degree)) == pytest.approx(energy, rel=1e-4)
    rest = spectrum.drop_sel(degree=list(expected))
    assert float(rest.sum()) < 1e-4 * float(spectrum.sum())


def test_the_spherical_spectrum_sums_to_the_area_mean_square():
    lat, n_lon = SPHERE_GRIDS["with poles 61x120"]
    rng = np.random.default_rng(3)
    terms = [(rng.normal(), int(d), int(rng.integers(0, d + 1))) for d in rng.integers(0, 20, 12)]
    field = harmonics_field(lat, n_lon, terms)
    # the reference: the area mean by exact cell areas on a much finer copy of the field
    fine = harmonics_field(-90 + 180 / 720 * (np.arange(720) + 0.5), 1440, terms)
    weights = np.cos(np.deg2rad(fine["lat"]))
    mean_square = float((fine**2).mean("lon").weighted(weights).mean())
    assert float(spherical_spectrum(field).sum()) == pytest.approx(mean_square, rel=1e-5)


def test_the_latitude_weights_are_gauss_legendre_and_clenshaw_curtis_on_their_grids():
    from torch_harmonics.quadrature import clenshaw_curtiss_weights, legendre_gauss_weights

    for rule in (clenshaw_curtiss_weights, legendre_gauss_weights):
        x, weights = rule(45, -1, 1)
        np.testing.assert_allclose(
            latitude_quadrature(np.rad2deg(np.arcsin(x))), weights, atol=1e-13
        )


def test_regional_grids_have_no_spherical_spectrum():
    band = grid(np.zeros((1, 9, 64))).isel(lat=slice(2, 7))  # -40..40: all longitudes only
    box = band.isel(lon=slice(0, 20))
    assert covers_sphere(grid(np.zeros((1, 9, 64))))
    assert is_global(band) and not covers_sphere(band) and not is_global(box)
    with pytest.raises(DataError, match="global grid"):
        spherical_spectrum(band)


def test_the_default_small_band_ends_where_a_spectral_model_on_the_grid_stops():
    """On 64 longitudes the small band is 11-21 (T21): energy at k = 25 is outside it; on 32
    longitudes (up to k = 10) there is no small band."""
    waves = lambda *ks: grid(  # noqa: E731
        np.broadcast_to(sum(np.cos(np.deg2rad(k * LON)) for k in ks), (1, 9, 64)).copy()
    )
    ratio = spectral_ratio(zonal_spectrum(waves(2, 25)), zonal_spectrum(waves(2, 15, 25)))
    assert ratio.sel(band="planetary").item() == pytest.approx(1.0)
    assert ratio.sel(band="small").item() == pytest.approx(0.0, abs=1e-12)
    coarse = grid(np.random.default_rng(0).normal(size=(1, 9, 64))).isel(lon=slice(None, None, 2))
    assert np.isnan(
        spectral_ratio(zonal_spectrum(coarse), zonal_spectrum(coarse)).sel(band="small")
    )


def test_spectra_stay_lazy_on_spatially_chunked_fields():
    lat, n_lon = SPHERE_GRIDS["with poles 61x120"]
    field = harmonics_field(lat, n_lon, [(1.0, 5, 2)])
    chunked = field.chunk({"lat": 20, "lon": 30})
    lazy = spherical_spectrum(chunked)
    assert lazy.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), spherical_spectrum(field))
    xr.testing.assert_allclose(zonal_spectrum(chunked).compute(), zonal_spectrum(field))
