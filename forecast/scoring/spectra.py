"""Zonal power spectra: is a generated field as rough as the real thing?

Blurred members lose energy at small scales; the spectrum shows it where pointwise scores
do not. Along each latitude circle of N points, with X_k the discrete Fourier transform,
the power at zonal wavenumber k is

    P_0 = |X_0|^2 / N^2,  P_k = 2 |X_k|^2 / N^2 (0 < k < N/2),  P_{N/2} = |X_{N/2}|^2 / N^2,

so that sum_k P_k is the mean of x^2 around the circle (Parseval). Circles are averaged
with cos(latitude) weights over a band, members and cases over the rest.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

WAVENUMBER = "wavenumber"


def zonal_spectrum(
    field: xr.DataArray,
    *,
    lat_band: tuple[float, float] = (-90.0, 90.0),
    average: tuple[str, ...] = (),
) -> xr.DataArray:
    """Zonal power spectrum of ``field`` (..., lat, lon) over ``lat_band`` (cos-latitude
    weighted mean of the circles), also averaged over the dims ``average`` (e.g. member,
    init_time); dims (..., wavenumber)."""
    band = field.sel(lat=slice(*sorted(lat_band)))
    if band.sizes["lat"] == 0:
        raise ValueError(f"no latitude of the field lies in {lat_band}")
    n = band.sizes["lon"]

    def power(values: np.ndarray) -> np.ndarray:
        coefficients = np.fft.rfft(values, axis=-1)
        p = np.abs(coefficients) ** 2 / n**2
        p[..., 1 : (n + 1) // 2] *= 2  # both signs of k, except 0 and the Nyquist wavenumber
        return p

    spectrum = xr.apply_ufunc(
        power,
        band,
        input_core_dims=[["lon"]],
        output_core_dims=[[WAVENUMBER]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {WAVENUMBER: n // 2 + 1}},
    ).assign_coords({WAVENUMBER: np.arange(n // 2 + 1)})
    weights = np.cos(np.deg2rad(band["lat"]))
    spectrum = spectrum.weighted(weights).mean("lat")
    return spectrum.mean([d for d in average if d in spectrum.dims])


def spectral_ratio(
    spectrum: xr.DataArray, reference: xr.DataArray, bands: dict[str, tuple[int, int]]
) -> xr.DataArray:
    """Energy of ``spectrum`` over that of ``reference`` in wavenumber ``bands`` (inclusive
    ranges, e.g. {"planetary": (1, 3), "synoptic": (4, 10)}): 1 = as energetic, below 1 =
    smoother; dims (..., band)."""
    ratios = [
        spectrum.sel({WAVENUMBER: slice(low, high)}).sum(WAVENUMBER)
        / reference.sel({WAVENUMBER: slice(low, high)}).sum(WAVENUMBER)
        for low, high in bands.values()
    ]
    return xr.concat(ratios, dim=xr.DataArray(list(bands), dims="band", name="band"))
