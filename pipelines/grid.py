"""Regular latitude/longitude grids: cell edges and cell areas."""

from __future__ import annotations

import numpy as np
import xarray as xr


def lat_edges(lat: np.ndarray) -> np.ndarray:
    """Cell edges (degrees) of ascending latitude centres, half-way between centres.

    The outer edges sit half a spacing beyond the first and last centres, clipped to
    the poles, so a grid with points on the poles has half-size polar cells. On a grid
    whose rows are not evenly spaced (a Gaussian grid's: its spacing varies by 0.8%), an
    outer edge that falls short of a pole by less than half a spacing is moved to the
    pole: such a grid is global, and its outer rows sit closer to the poles than half a
    spacing.
    """
    lat = np.asarray(lat, dtype=float)
    mid = 0.5 * (lat[1:] + lat[:-1])
    steps = np.diff(lat)
    first = lat[0] - 0.5 * steps[0]
    last = lat[-1] + 0.5 * steps[-1]
    if np.ptp(steps) > 1e-3 * np.abs(steps).mean():  # unevenly spaced
        if first + 90.0 < 0.5 * steps[0]:
            first = -90.0
        if 90.0 - last < 0.5 * steps[-1]:
            last = 90.0
    return np.clip(np.concatenate([[first], mid, [last]]), -90.0, 90.0)


def lon_edges(lon: np.ndarray) -> np.ndarray:
    """Cell edges (degrees) of evenly spaced, ascending longitude centres."""
    lon = np.asarray(lon, dtype=float)
    step = (lon[-1] - lon[0]) / (lon.size - 1)
    return np.concatenate([lon - 0.5 * step, [lon[-1] + 0.5 * step]])


def cell_area_weights(lat: xr.DataArray | np.ndarray) -> xr.DataArray:
    """Relative cell area per latitude, (sin phi_north - sin phi_south), normalised to mean 1.

    This is the exact area of a latitude band cell on the sphere (per unit longitude
    width); unlike cos(lat) it gives polar cells their true, non-zero area.
    """
    values = np.asarray(lat, dtype=float)
    edges = np.deg2rad(lat_edges(values))
    weights = np.diff(np.sin(edges))
    weights = weights / weights.mean()
    return xr.DataArray(weights, dims=["lat"], coords={"lat": values}, name="cell_area")


def regular_grid(resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a global grid with cells of ``resolution`` degrees (no points on the poles)."""
    n_lat = round(180.0 / resolution)
    n_lon = round(360.0 / resolution)
    lat = -90.0 + resolution * (np.arange(n_lat) + 0.5)
    lon = resolution * np.arange(n_lon)
    return lat, lon


def uncovered(
    src_lat: np.ndarray, src_lon: np.ndarray, dst_lat: np.ndarray, dst_lon: np.ndarray
) -> str | None:
    """Why the source grid's cells do not cover the destination's points, or None if they do.

    A source spanning all longitudes (to within one cell) is periodic and covers any
    longitude; otherwise both grids are compared in 0..360.
    """
    lat_lo, lat_hi = lat_edges(np.sort(src_lat))[[0, -1]]
    if np.min(dst_lat) < lat_lo - 1e-6 or np.max(dst_lat) > lat_hi + 1e-6:
        return f"latitudes {lat_lo:g}..{lat_hi:g} do not cover {np.min(dst_lat):g}..{np.max(dst_lat):g}"
    edges = lon_edges(np.sort(src_lon))
    if edges[-1] - edges[0] >= 360.0 - 1e-6:
        return None
    if np.min(dst_lon) < edges[0] - 1e-6 or np.max(dst_lon) > edges[-1] + 1e-6:
        return (
            f"longitudes {edges[0]:g}..{edges[-1]:g} do not cover "
            f"{np.min(dst_lon):g}..{np.max(dst_lon):g}"
        )
    return None
