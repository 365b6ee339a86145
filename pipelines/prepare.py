"""``prepare``: a catalog entry -> an aligned, normalised, complete zarr store.

Store layout (zarr v3, one store per entry)::

    <out>/<entry>.zarr/
        /              the data in physical units: reanalysis (time, [member], lat, lon)
                       or ensemble forecast (init_time, lead_time, member, lat, lon)
        /truth         forecasts only: the reanalysis at valid time (init_time, lead_time, lat, lon)
        /climatology   day-of-year mean and std of the reanalysis (statistic, dayofyear, lat, lon)
        /static        the static fields the catalog names (orography, land-sea mask...), (lat, lon)
        /stats         area-weighted mean and std per variable (statistic,)

The climatology and the statistics are computed in one pass over the reanalysis after the
data are written: for a reanalysis entry from the store itself, so a slow source (GRIB) is
decoded once. The pass streams over time, one variable at a time
(:mod:`pipelines.climatology_stream`): memory is bounded by fields, not by the globe x 366
days.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .align import truth_on_forecast_grid
from .catalog import Catalog, Entry
from .climatology import FLOORED_ATTR, SKEWED_STD_FLOOR, STD_FLOOR
from .climatology_stream import write_statistics_groups
from .errors import ConfigError, DataError
from .grid import regular_grid
from .readers import open_entry
from .regrid import regrid_conservative
from .static import static_fields
from .store import fingerprint, load_together, write_store
from .transforms import space_of, to_model_space, transform_of

log = logging.getLogger(__name__)
STORE_VERSION = 1


def _on_grid(ds: xr.Dataset, resolution: float | None) -> xr.Dataset:
    if resolution is None:
        return ds
    lat, lon = regular_grid(resolution)
    return regrid_conservative(ds, lat, lon, f"the global {resolution:g}-degree grid")


def build(
    entry: Entry, catalog: Catalog, resolution: float | None = None, progress: bool = True
) -> tuple[dict[str, xr.Dataset], Callable[[xr.Dataset], xr.Dataset]]:
    """The lazy groups of the prepared store for ``entry``, and the function that picks,
    from the stored root group, the reanalysis whose climatology and statistics the store
    holds (see the module docstring)."""
    resolution = resolution if resolution is not None else entry.grid
    data = _on_grid(open_entry(entry, progress), resolution)
    variables = list(data.data_vars)
    static = (
        {"static": static_fields(entry.static, data["lat"].values, data["lon"].values, entry.name)}
        if entry.static
        else {}
    )
    if entry.role == "reanalysis":
        return {"": data, **static}, lambda stored: stored[variables]
    if entry.truth is None:
        raise ConfigError(
            "an ensemble forecast needs 'truth: <reanalysis entry>' in the catalog to be prepared "
            "(it supplies the verifying analysis and the climatology)",
            entry.name,
        )
    truth_entry = catalog[entry.truth]
    if truth_entry.role != "reanalysis":
        raise ConfigError(
            f"truth entry {entry.truth!r} has role {truth_entry.role!r}, not reanalysis",
            entry.name,
        )
    truth, reanalysis = truth_on_forecast_grid(
        data,
        open_entry(truth_entry, progress),
        source=truth_entry.path,
        target=f"the forecast's grid ({entry.name})"
        if resolution is None
        else f"the global {resolution:g}-degree grid",
        # regridding onto a grid the user chose with --grid goes without saying
        notice=print if progress and resolution is None else None,
    )
    groups = {"": data, "truth": truth, **static}
    return groups, lambda stored: reanalysis


def _half_window(entry: Entry) -> int:
    """The climatology's half window in days (``options: climatology: {half_window: N}``)."""
    options = entry.options.get("climatology", {})
    half_window = options.get("half_window", 15) if isinstance(options, dict) else None
    if not isinstance(half_window, int) or half_window < 0 or set(options) - {"half_window"}:
        raise ConfigError(
            "options: climatology takes {half_window: N}, N a whole number of days, 0 or "
            f"more; got {options}",
            entry.name,
        )
    return half_window


def _value_text(value: np.generic) -> str:
    """A coordinate value as a user reads it: 2020-01-02T06:00, 29 days 06:00:00, 21."""
    if np.issubdtype(np.asarray(value).dtype, np.timedelta64):
        return str(pd.Timedelta(value))
    if np.issubdtype(np.asarray(value).dtype, np.datetime64):
        return np.datetime_as_string(value, unit="m")
    return str(value)


def refuse_empty_fields(block: xr.Dataset) -> None:
    """Raise :class:`DataError` if any field (one variable on the whole grid) is all NaN.

    Missing points (a land mask) are allowed; a field with no value at all is a broken
    source, and would make every statistic computed from it NaN.
    """
    for name, da in block.data_vars.items():
        if not {"lat", "lon"} <= set(da.dims):
            continue
        empty = np.isnan(da.values).all(axis=(da.dims.index("lat"), da.dims.index("lon")))
        if empty.any():
            first = np.argwhere(empty)[0]
            other = [d for d in da.dims if d not in ("lat", "lon")]
            where = ", ".join(
                f"{d}={_value_text(da[d].values[i])}" for d, i in zip(other, first, strict=True)
            )
            raise DataError(
                f"variable {name!r} is entirely missing (all NaN) at {where}; "
                "fix or drop those fields in the source",
                str(block.attrs.get("source") or block.attrs.get("entry", "")) or None,
            )


def prepare_entry(
    name: str,
    catalog: Catalog,
    out_dir: str | Path,
    *,
    resolution: float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    chunk_mb: float | None = None,
) -> Path:
    """Prepare one catalog entry into ``out_dir/<name>.zarr``; resume if interrupted.

    ``resolution``: regrid to a global grid of this spacing in degrees (default: the
    entry's ``grid``, else none). ``chunk_mb``: target chunk size (default 4 MB; see :func:`pipelines.store.choose_chunks`).
    """
    entry = catalog[name]
    half_window = _half_window(entry)
    groups, climate_of = build(entry, catalog, resolution, progress)
    outer = "time" if entry.role == "reanalysis" else "init_time"
    chunk_bytes = None if chunk_mb is None else int(chunk_mb * 2**20)
    if chunk_bytes is not None and chunk_bytes <= 0:
        raise ConfigError(f"the chunk size must be positive, got {chunk_mb} MB")
    inputs = [asdict(entry), resolution, STORE_VERSION]
    if chunk_bytes is not None:  # only when set, so stores made before keep their key
        inputs.append({"chunk_bytes": chunk_bytes})
    if entry.truth is not None:
        inputs.append(asdict(catalog[entry.truth]))
    # the climatology of a transformed variable is in its model space: another space is
    # another store (and stores without one keep their key)
    spaces = {str(v): space_of(str(v)) for v in groups[""].data_vars if transform_of(str(v))}
    if spaces:
        inputs.append({"model_space": spaces})
    path = Path(out_dir) / f"{name}.zarr"
    truth_source = catalog[entry.truth].path if entry.truth is not None else entry.path

    def label(groups: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
        for group, ds in groups.items():
            ds.attrs.update({"entry": name, "role": entry.role})
            # where the values come from, for error messages: the truth's groups from the truth
            ds.attrs.setdefault("source", entry.path if group == "" else truth_source)
        return groups

    def load(da: xr.DataArray, where: str) -> np.ndarray:
        block = da.to_dataset().assign_attrs(source=truth_source)
        return load_together({"": block}, f"{where} (climatology)")[""][da.name].values

    def statistics(stored: xr.Dataset, partial: Path) -> None:
        write_statistics_groups(
            to_model_space(climate_of(stored)),
            partial,
            load,
            half_window=half_window,
            attrs={"entry": name, "role": entry.role, "source": truth_source},
            progress=progress,
        )

    store = write_store(
        path,
        label(groups),
        outer=outer,
        key=fingerprint(*inputs),
        overwrite=overwrite,
        progress=progress,
        description=name,
        check=refuse_empty_fields,
        chunk_bytes=chunk_bytes,
        derived=statistics,
    )
    if progress:  # from the attributes: no data read again
        clim = xr.open_zarr(store, group="climatology", consolidated=False)
        for variable, da in clim.data_vars.items():
            if count := da.attrs.get(FLOORED_ATTR, 0):
                print(
                    f"{name}: {variable}: the climatology's standard deviation is raised to "
                    f"{SKEWED_STD_FLOOR if transform_of(str(variable)) else STD_FLOOR:g} of the "
                    f"overall one at {count} of {da.size // 2} "
                    "day-points (values that hardly change there)"
                )
    return store
