"""Static fields of a catalog entry (orography, land-sea mask...), on the entry's grid.

Invariant fields come as files of their own (ERA5's geopotential at the surface ``z`` and
land-sea mask ``lsm``) in any format xarray opens: netCDF, GRIB (cfgrib) or zarr. The
catalog names them per entry::

    ens:
      ...
      static:
        orography: invariants/era5_orography.nc            # its only 2-D variable
        land_sea_mask: {path: invariants/era5.grib, variable: lsm}

Each is read whole (a single map: small), its singleton dimensions (time, step, surface)
dropped, put on the lat-ascending, lon-in-[0, 360) convention, regridded conservatively
onto the prepared data's grid when it differs, and written to the prepared store's
``/static`` group (:func:`pipelines.prepare.prepare_entry`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from . import lexicon
from .errors import DataError, describe
from .regrid import regrid_conservative

_COORDINATE_ALIASES = {"latitude": "lat", "longitude": "lon"}


def _engine(path: str) -> str | None:
    suffix = Path(path.rstrip("/")).suffix.lower()
    return {".grib": "cfgrib", ".grb": "cfgrib", ".grib2": "cfgrib", ".zarr": "zarr"}.get(suffix)


def read_static_field(path: str, variable: str | None) -> xr.DataArray:
    """The 2-D (lat, lon) field ``variable`` of the file at ``path`` (None: its only data
    variable), lat ascending, lon in [0, 360)."""
    engine = _engine(path)
    options = {"backend_kwargs": {"indexpath": ""}} if engine == "cfgrib" else {}
    if "://" in path:
        raise DataError(
            "static fields are read from local files (one small map each): download it first",
            path,
        )
    if not Path(path).exists():
        raise DataError("no such static-field file (check 'static' in the catalog)", path)
    try:
        ds = xr.open_dataset(path, engine=engine, **options)
    except Exception as error:
        raise DataError(f"cannot be read as a static field ({describe(error)})", path) from None
    with ds:
        names = list(ds.data_vars)
        if variable is None:
            if len(names) != 1:
                raise DataError(
                    f"holds {names}: name the static field with {{path: ..., variable: NAME}}",
                    path,
                )
            variable = names[0]
        if variable not in ds.data_vars:
            raise DataError(f"has no variable {variable!r}; it has {names}", path)
        field = ds[variable].rename(
            {k: v for k, v in _COORDINATE_ALIASES.items() if k in ds[variable].dims}
        )
        extra = [d for d in field.dims if d not in ("lat", "lon")]
        if any(field.sizes[d] != 1 for d in extra) or not {"lat", "lon"} <= set(field.dims):
            raise DataError(
                f"{variable} is not one latitude/longitude map (dimensions {dict(field.sizes)})",
                path,
            )
        field = field.isel({d: 0 for d in extra}, drop=True).load()
    field = field.drop_vars([c for c in field.coords if c not in ("lat", "lon")])
    field = field.assign_coords(lon=np.mod(field["lon"].values.astype(float), 360.0))
    field = field.sortby(["lat", "lon"]).transpose("lat", "lon")
    if not np.isfinite(field.values).all():
        raise DataError(f"{variable} has missing values; a static field must cover the globe", path)
    return field.astype(np.float32)


def static_fields(
    spec: dict[str, dict[str, str | None]], lat: np.ndarray, lon: np.ndarray, target: str
) -> xr.Dataset:
    """The fields of ``spec`` (name -> {path, variable}) on the grid (``lat``, ``lon``),
    regridded conservatively from their own where it differs."""
    fields = {}
    for name, where in spec.items():
        field = read_static_field(str(where["path"]), where.get("variable"))
        same = field.sizes["lat"] == len(lat) and field.sizes["lon"] == len(lon)
        if not (same and np.allclose(field["lat"], lat) and np.allclose(field["lon"], lon)):
            field = regrid_conservative(field, lat, lon, target)
        fields[name] = field.assign_coords(lat=lat, lon=lon).astype(np.float32)
    ds = xr.Dataset(fields)
    for name in ("lat", "lon"):
        ds[name].attrs = dict(lexicon.COORDINATE_ATTRS[name])
    return ds
