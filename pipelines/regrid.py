"""First-order conservative regridding between regular latitude/longitude grids.

Why conservative: coarsening by area-weighted averaging over the overlap of source
and target cells keeps the area-weighted global mean exactly (mass, energy and
the mean scores stay comparable across grids), and it does not alias small-scale
features the way point interpolation does. On a regular grid the overlap area of
two cells factorises into a latitude part, the overlap in sin(latitude), and a
longitude part, the overlap in longitude taken periodically, so the regridding is
two small dense matrices applied on either side of each field:
``out = W_lat @ field @ W_lon.T`` (Jones 1999, Mon. Wea. Rev. 127, 2204-2210).
NaNs are skipped: the weights are renormalised by the valid overlap.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from .errors import DataError
from .grid import lat_edges, lon_edges, uncovered


def _overlap(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Overlap length of each destination interval (rows) with each source interval."""
    lo = np.maximum(dst[:-1, None], src[None, :-1])
    hi = np.minimum(dst[1:, None], src[None, 1:])
    return np.clip(hi - lo, 0.0, None)


def lat_weights(src_lat: np.ndarray, dst_lat: np.ndarray) -> np.ndarray:
    """Row-normalised overlap of latitude bands, measured in sin(latitude) (i.e. area)."""
    src = np.sin(np.deg2rad(lat_edges(src_lat)))
    dst = np.sin(np.deg2rad(lat_edges(dst_lat)))
    return _normalise(_overlap(src, dst))


def lon_weights(src_lon: np.ndarray, dst_lon: np.ndarray) -> np.ndarray:
    """Row-normalised overlap of longitude intervals, periodic over 360 degrees."""
    src = lon_edges(src_lon)
    dst = lon_edges(dst_lon)
    total = sum(_overlap(src + shift, dst) for shift in (-360.0, 0.0, 360.0))
    return _normalise(total)


def _normalise(overlap: np.ndarray) -> np.ndarray:
    sums = overlap.sum(axis=1, keepdims=True)
    return np.divide(overlap, sums, out=np.zeros_like(overlap), where=sums > 0)


def _apply(field: np.ndarray, w_lat: np.ndarray, w_lon: np.ndarray) -> np.ndarray:
    valid = np.isfinite(field)
    filled = np.where(valid, field, 0.0)
    numerator = np.einsum("ij,...jk,lk->...il", w_lat, filled, w_lon, optimize=True)
    denominator = np.einsum(
        "ij,...jk,lk->...il", w_lat, valid.astype(w_lat.dtype), w_lon, optimize=True
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = numerator / denominator
    return np.where(denominator > 1e-12, out, np.nan).astype(np.float32)


def describe_grid(lat: np.ndarray, lon: np.ndarray) -> str:
    """``61 x 120 points (3 x 3 degrees)``; the spacing as the median step."""
    steps = [
        f"{float(np.median(np.abs(np.diff(v)))):.4g}" if v.size > 1 else "?" for v in (lat, lon)
    ]
    return f"{lat.size} x {lon.size} points ({steps[0]} x {steps[1]} degrees)"


def regrid_conservative(
    data: xr.Dataset | xr.DataArray,
    lat: np.ndarray,
    lon: np.ndarray,
    target: str = "the target grid",
    notice: Callable[[str], None] | None = None,
) -> xr.Dataset | xr.DataArray:
    """Regrid ``data`` (dims ``lat`` ascending, ``lon``) onto the centres ``lat``, ``lon``.

    Lazy on dask: each chunk holding whole fields is regridded independently.
    Output is float32, the storage precision of every prepared store. A source whose
    cells do not cover the target's points is refused (``target`` names it in the error).
    ``notice``: told in one line, when the grids differ, what is regridded from and to.
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    gap = uncovered(data["lat"].values, data["lon"].values, lat, lon)
    if gap is not None:
        raise DataError(
            f"its grid does not cover {target} ({gap}); use a source that covers it",
            str(data.attrs.get("source", "")) or None,
        )
    if (
        data.sizes["lat"] == lat.size
        and data.sizes["lon"] == lon.size
        and np.allclose(data["lat"].values, lat)
        and np.allclose(data["lon"].values, lon)
    ):
        return data
    if notice is not None:
        source = data.attrs.get("source") or "the data"
        notice(
            f"{source}: regridding from {describe_grid(data['lat'].values, data['lon'].values)} "
            f"to {target}, {describe_grid(lat, lon)} (conservative)"
        )
    w_lat = lat_weights(data["lat"].values, lat)
    w_lon = lon_weights(data["lon"].values, lon)
    if data.chunks:
        data = data.chunk({"lat": -1, "lon": -1})
    out = xr.apply_ufunc(
        _apply,
        data,
        kwargs={"w_lat": w_lat, "w_lon": w_lon},
        input_core_dims=[["lat", "lon"]],
        output_core_dims=[["lat_out", "lon_out"]],
        dask="parallelized",
        dask_gufunc_kwargs={"output_sizes": {"lat_out": lat.size, "lon_out": lon.size}},
        output_dtypes=[np.float32],
        keep_attrs=True,
    )
    out = out.rename(lat_out="lat", lon_out="lon").assign_coords(lat=lat, lon=lon)
    out["lat"].attrs = data["lat"].attrs
    out["lon"].attrs = data["lon"].attrs
    return out
