"""Power spectra: is a generated field as rough as the real thing?

Blurred members lose energy at small scales; the spectrum shows it where pointwise scores
do not. Two spectra, both normalised so that they sum to the mean of x^2 (Parseval).

Zonal: along each latitude circle of N points, with X_k the discrete Fourier transform,
the power at zonal wavenumber k is

    P_0 = |X_0|^2 / N^2,  P_k = 2 |X_k|^2 / N^2 (0 < k < N/2),  P_{N/2} = |X_{N/2}|^2 / N^2,

so that sum_k P_k is the mean of x^2 around the circle (Parseval). Circles are averaged
with cos(latitude) weights over a band, members and cases over the rest.

Spherical harmonic (global grids): with orthonormal harmonics Y_lm (torch-harmonics'
associated Legendre functions) and f_lm = int f Y_lm* dOmega, the energy at total
wavenumber (degree) l is

    E_l = (|f_l0|^2 + 2 sum_{m>0} |f_lm|^2) / (4 pi),

the latitude integral taken by the interpolatory quadrature on the grid's own latitudes
(exact for polynomials in cos(colatitude) of degree below the number of latitudes: Gauss-
Legendre on a Gaussian grid, Clenshaw-Curtis with poles, Fejer's first rule on a
cell-centred grid).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pipelines.errors import DataError
from pipelines.grid import lat_edges, lon_edges

WAVENUMBER = "wavenumber"
DEGREE = "degree"
# zonal wavenumber bands of the spectral ratio (inclusive). None: to a third of the number
# of longitudes, the last wavenumber a spectral model on that grid resolves (quadratic
# grid: e.g. T21 on 64 longitudes), beyond which a physics ensemble may have no energy
BANDS: dict[str, tuple[int, int | None]] = {
    "planetary": (1, 3),
    "synoptic": (4, 10),
    "small": (11, None),
}


def is_global(field: xr.DataArray | xr.Dataset) -> bool:
    """Whether the longitudes go all the way round (to within one cell)."""
    edges = lon_edges(np.sort(np.asarray(field["lon"], float)))
    return bool(edges[-1] - edges[0] >= 360.0 - 1e-6)


def covers_sphere(field: xr.DataArray | xr.Dataset) -> bool:
    """Global in longitude, and latitude cells reaching both poles."""
    edges = lat_edges(np.sort(np.asarray(field["lat"], float)))
    return is_global(field) and edges[0] <= -90 + 1e-6 and edges[-1] >= 90 - 1e-6


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
        raise DataError(f"no latitude of the field lies in {lat_band}")
    n = band.sizes["lon"]

    def power(values: np.ndarray) -> np.ndarray:
        coefficients = np.fft.rfft(values, axis=-1)
        p = np.abs(coefficients) ** 2 / n**2
        p[..., 1 : (n + 1) // 2] *= 2  # both signs of k, except 0 and the Nyquist wavenumber
        return p

    if band.chunks:  # each circle whole in one chunk
        band = band.chunk({"lon": -1})
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


def latitude_quadrature(lat: np.ndarray) -> np.ndarray:
    """Weights w_k with sum_k w_k p(cos theta_k) = int_{-1}^{1} p(x) dx for every polynomial p
    of degree below the number of latitudes (theta the colatitude): the interpolatory rule,
    from the moments of the Legendre polynomials (int P_j = 2 delta_j0)."""
    x = np.sin(np.deg2rad(np.asarray(lat, float)))
    vandermonde = np.polynomial.legendre.legvander(x, x.size - 1).T
    moments = np.zeros(x.size)
    moments[0] = 2.0
    return np.linalg.solve(vandermonde, moments)


def spherical_degrees(field: xr.DataArray | xr.Dataset) -> int:
    """The number of degrees (0, 1, ...) :func:`spherical_spectrum` gives on ``field``'s
    grid: the latitudes' count, or the orders below the Nyquist one (which has no sine
    part) if fewer."""
    return min(field.sizes["lat"], (field.sizes["lon"] + 1) // 2)


def spherical_spectrum(field: xr.DataArray, *, average: tuple[str, ...] = ()) -> xr.DataArray:
    """Spherical-harmonic power spectrum of a global ``field`` (..., lat, lon) by degree,
    also averaged over the dims ``average``; dims (..., degree), degrees 0 to
    min(n_lat, ceil(n_lon / 2)) - 1."""
    if not covers_sphere(field):
        raise DataError(
            "a spherical-harmonic spectrum needs a global grid (all longitudes, cells to both poles)"
        )
    from torch_harmonics.legendre import legpoly

    lat = np.asarray(field["lat"], float)
    n_lon = field.sizes["lon"]
    degrees = spherical_degrees(field)
    # legpoly: orthonormal (-1)^m P_lm at x = cos(colatitude) = sin(latitude), (m, l, lat)
    legendre = legpoly(degrees, degrees, np.sin(np.deg2rad(lat))) * latitude_quadrature(lat)
    doubled = np.where(np.arange(degrees) > 0, 2.0, 1.0)  # +-m of a real field

    def power(values: np.ndarray) -> np.ndarray:
        # F_m(theta) = int f e^{-i m phi} dphi, then f_lm = sum_k w_k P_lm(x_k) F_m(theta_k)
        orders = 2 * np.pi * np.fft.rfft(values, axis=-1)[..., :degrees] / n_lon
        coefficients = np.einsum("...km,mlk->...lm", orders, legendre)
        return (np.abs(coefficients) ** 2 * doubled).sum(-1) / (4 * np.pi)

    if field.chunks:  # each globe whole in one chunk
        field = field.chunk({"lat": -1, "lon": -1})
    spectrum = xr.apply_ufunc(
        power,
        field,
        input_core_dims=[["lat", "lon"]],
        output_core_dims=[[DEGREE]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {DEGREE: degrees}},
    ).assign_coords({DEGREE: np.arange(degrees)})
    return spectrum.mean([d for d in average if d in spectrum.dims])


def spectral_ratio(
    spectrum: xr.DataArray,
    reference: xr.DataArray,
    bands: dict[str, tuple[int, int | None]] = BANDS,
    dim: str = WAVENUMBER,
) -> xr.DataArray:
    """Energy of ``spectrum`` over that of ``reference`` in ``bands`` of ``dim`` (zonal
    wavenumber, or :data:`DEGREE` for spherical spectra; inclusive ranges; None: two thirds
    of the last, see :data:`BANDS`): 1 = as energetic, below 1 = smoother, NaN for a band
    the grid does not resolve; dims (..., band)."""
    last = 2 * int(spectrum[dim].max()) // 3
    bands = {name: (low, last if high is None else high) for name, (low, high) in bands.items()}
    energy = lambda s, low, high: s.sel({dim: slice(low, high)}).sum(dim)  # noqa: E731
    # NaN for a band beyond the grid's wavenumbers (or with no reference energy)
    ratios = [
        energy(spectrum, low, high) / energy(reference, low, high).where(lambda e: e > 0)
        for low, high in bands.values()
    ]
    return xr.concat(ratios, dim=xr.DataArray(list(bands), dims="band", name="band"))
