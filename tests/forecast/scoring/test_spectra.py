"""Zonal spectra against Parseval, a pure wave, and a smoothing that must lose energy."""

import numpy as np
import pytest
import xarray as xr

from forecast.scoring.spectra import spectral_ratio, zonal_spectrum

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
