"""Open a catalog entry lazily and bring it to the project's conventions.

Every reader returns an :class:`xarray.Dataset` backed by dask with

- dimensions ``time`` (reanalysis) or ``init_time``/``lead_time``/``member``
  (ensemble forecasts; a reanalysis may also carry ``member``), then ``lat``
  (ascending) and ``lon`` (0..360, ascending);
- one variable per field and level, named from :mod:`pipelines.lexicon`
  (``z500``), in the standard unit, with CF attributes.

Nothing is computed: only coordinates and metadata are read.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr

from . import lexicon, remote
from .catalog import Entry, expand_path
from .errors import DataError, describe
from .lagged import LAG_ATTR, cube_of_starts, group_lagged
from .store import DEFAULT_CHUNK_BYTES

log = logging.getLogger(__name__)

_DIM_ALIASES = {
    "latitude": "lat",
    "longitude": "lon",
    "number": "member",
    "realization": "member",
    "ensemble": "member",
    "member_id": "member",
    "step": "lead_time",
    "prediction_timedelta": "lead_time",
    "isobaricInhPa": "level",
    "pressure_level": "level",
    "plev": "level",
    "lev": "level",
}

# netCDF-3 (classic, 64-bit offset, CDF-5) and netCDF-4 (HDF5) files start with these.
NETCDF_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")

Reader = Callable[[Entry], xr.Dataset]
READERS: dict[str, Reader] = {}


def register_reader(fmt: str) -> Callable[[Reader], Reader]:
    """Register the function that opens entries of one ``format``."""

    def decorate(function: Reader) -> Reader:
        READERS[fmt] = function
        return function

    return decorate


def open_entry(entry: Entry, progress: bool = True) -> xr.Dataset:
    """Open ``entry`` lazily, standardised and validated (see module docstring).

    ``progress``: progress bars while the embedded world is built on first use.
    """
    if entry.format not in READERS:
        raise DataError(f"no reader for format {entry.format!r}", entry.name)
    if entry.format == "world":  # the world writes the conventions itself
        return validate(read_world(entry, progress), entry.role, entry.path or entry.name)
    if entry.is_remote:  # coordinates are read now: a dropped connection is one error line
        with remote.reading(entry.path):
            return standardise(READERS[entry.format](entry), entry)
    return standardise(READERS[entry.format](entry), entry)


def _local_files(entry: Entry) -> list[str]:
    """The files an entry names: local ones checked to exist, remote ones listed (a glob)
    and checked (see :mod:`pipelines.remote`)."""
    if entry.is_remote:
        return remote.expand(entry.path, entry.storage_options)
    files = expand_path(entry.path)
    missing = [f for f in files if not os.path.exists(f)]
    if not files or missing:
        raise DataError("no such file or directory (check 'path' in the catalog)", entry.path)
    return files


def _opening_error(entry: Entry, error: Exception, what: str) -> DataError:
    return DataError(f"cannot be read as {what} ({describe(error)})", entry.path)


@register_reader("grib")
def read_grib(entry: Entry) -> xr.Dataset:
    """GRIB 1/2 through cfgrib; corrupted messages are an error, never silently skipped."""
    files = _local_files(entry)
    if entry.is_remote:  # cfgrib reads local files: each fetched once into the cache
        files = [remote.local_copy(url, entry.storage_options) for url in files]
    kwargs = {"indexpath": "", "errors": "raise", **entry.options.get("backend_kwargs", {})}
    datasets = []
    for path in files:
        try:
            ds = xr.open_dataset(path, engine="cfgrib", backend_kwargs=kwargs)
            # one dask chunk per time and step: a block of times then decodes only its own
            # messages (one chunk per variable would decode the whole file for every block)
            datasets.append(ds.chunk({d: 1 for d in ("time", "step") if d in ds.dims}))
        except Exception as error:
            message = _split_advice(error) or f"cannot be read as GRIB ({describe(error)})"
            raise DataError(message, path) from None
    return datasets[0] if len(datasets) == 1 else _combine(datasets, entry)


def _split_advice(error: Exception) -> str | None:
    """cfgrib's advice when a file's messages do not form one hypercube, as catalog words.

    cfgrib raises ``DatasetBuildError(message, key, [filter_by_keys, ...])``: the GRIB key
    whose values differ, and one ``filter_by_keys`` choice per value.
    """
    args = getattr(error, "args", ())
    if (
        len(args) < 3
        or not isinstance(args[2], list)
        or not all(isinstance(c, dict) for c in args[2])
    ):
        return None
    key, choices = args[1], args[2]
    values = [str(choice.get(key)) for choice in choices]

    def flow(mapping: dict) -> str:
        return "{" + ", ".join(f"{k}: {v}" for k, v in mapping.items()) + "}"

    return (
        f"holds fields that differ in GRIB key {key!r} ({', '.join(values)}) and cannot be read "
        "as one dataset; make one catalog entry per value, e.g. with options: {backend_kwargs: "
        f"{{filter_by_keys: {flow(choices[0])}}}}}" + "".join(f" / {flow(c)}" for c in choices[1:])
    )


@register_reader("netcdf")
def read_netcdf(entry: Entry) -> xr.Dataset:
    files = _local_files(entry)
    datasets = []
    for path in files:
        if not entry.is_remote and os.path.isfile(path):
            with open(path, "rb") as handle:
                magic = handle.read(8)
            if not magic.startswith(NETCDF_SIGNATURES):
                raise DataError(
                    f"is not a netCDF file (it starts with {magic[:4]!r}, not 'CDF' or HDF5's "
                    "signature); check 'format' in the catalog",
                    path,
                )
        try:
            options = entry.options.get("open_kwargs", {})
            source = path
            if entry.is_remote:  # read by byte ranges: netCDF-4 through h5netcdf
                source = remote.open_file(path, entry.storage_options)
                options = {"engine": _remote_engine(source, path), **options}
            ds = xr.open_dataset(source, chunks={}, **options)
            if chunks := _chunks_in_time(ds):
                ds = xr.open_dataset(source, chunks=chunks, **options)
            datasets.append(ds)
        except DataError:
            raise
        except Exception as error:
            raise DataError(f"cannot be read as netCDF ({describe(error)})", path) from None
    return datasets[0] if len(datasets) == 1 else _combine(datasets, entry)


def _remote_engine(handle, url: str) -> str:
    """The engine that reads a remote netCDF file object: h5netcdf (netCDF-4), scipy (3)."""
    magic = handle.read(8)
    handle.seek(0)
    if magic.startswith(NETCDF_SIGNATURES[-1]):
        remote.require_package("h5py", url)
        return "h5netcdf"
    if magic.startswith(NETCDF_SIGNATURES[:-1]):
        return "scipy"
    raise DataError(
        f"is not a netCDF file (it starts with {magic[:4]!r}); check 'format' in the catalog", url
    )


def _chunks_in_time(ds: xr.Dataset, target_bytes: int = DEFAULT_CHUNK_BYTES) -> dict[str, int]:
    """Dask chunks of about ``target_bytes`` along the time dimensions of an unchunked file.

    A contiguous netCDF variable opens as one dask chunk: every block of times that
    ``prepare`` writes would read all of it again (quadratic in the file's length).
    """
    chunks = {}
    for dim in ("time", "valid_time", "init_time", "forecast_reference_time"):
        having = [v for v in ds.data_vars.values() if dim in v.dims]
        whole = all(v.chunks is not None and len(v.chunks[v.dims.index(dim)]) == 1 for v in having)
        if having and whole:
            per_step = max(v.nbytes // ds.sizes[dim] for v in having)
            chunks[dim] = max(1, target_bytes // max(per_step, 1))
    return chunks


@register_reader("zarr")
def read_zarr(entry: Entry) -> xr.Dataset:
    """Zarr v2 or v3, consolidated or not (the source's encoding is never carried into a
    store); remote stores are opened where they lie (a web server needs consolidated
    metadata: it cannot list a folder)."""
    if entry.is_remote:
        remote.require_filesystem(entry.path)
    else:
        _local_files(entry)
    try:
        with warnings.catch_warnings():
            # an unconsolidated store is read as it is; the fallback is not the user's concern
            warnings.filterwarnings("ignore", "Failed to open Zarr store with consolidated")
            options = dict(entry.options.get("open_kwargs", {}))
            if entry.is_remote:
                options["storage_options"] = entry.storage_options
            return xr.open_zarr(entry.path, chunks={}, **options)
    except Exception as error:
        raise _opening_error(entry, error, "zarr") from None


@register_reader("world")
def read_world(entry: Entry, progress: bool = True) -> xr.Dataset:
    """The embedded world (built and cached on first use under the entry's ``path``)."""
    from .world import PROFILES, WorldSettings, open_world

    options = dict(entry.options)
    component = options.pop("component", "truth" if entry.role == "reanalysis" else "operational")
    try:
        settings = WorldSettings(**options)
    except TypeError as error:
        raise DataError(f"bad world options {options}: {error}", entry.name) from None
    if settings.profile not in PROFILES:
        raise DataError(
            f"unknown world profile {settings.profile!r}; profiles: {sorted(PROFILES)}", entry.name
        )
    ds = open_world(settings, component, entry.path or "data/world", progress)
    if entry.variables is not None:
        missing = [v for v in entry.variables if v not in ds.data_vars]
        if missing:
            raise DataError(
                f"the world has no {missing}; it provides {sorted(ds.data_vars)}", entry.name
            )
        ds = ds[list(entry.variables)]
    ds.attrs = {"source": entry.path, "entry": entry.name, "role": entry.role}
    return ds


def _combine(datasets: list[xr.Dataset], entry: Entry) -> xr.Dataset:
    try:
        # xarray's present defaults, named: they are about to change (a FutureWarning says so)
        return xr.combine_by_coords(
            datasets,
            compat="no_conflicts",
            data_vars="all",
            coords="different",
            join="outer",
            combine_attrs="drop_conflicts",
        )
    except Exception as error:
        raise DataError(f"the files do not combine into one dataset: {error}", entry.path) from None


def standardise(ds: xr.Dataset, entry: Entry) -> xr.Dataset:
    """Rename, select, split levels, convert units and sort; then validate."""
    source = entry.path
    ds = ds.rename({name: new for name, new in _DIM_ALIASES.items() if name in ds.variables})
    ds = _time_axes(ds, entry.role, source, lagged=entry.lag_window is not None)
    ds = _select(ds, entry, source, times=entry.lag_window is None)
    ds = _split_levels_and_rename(ds, entry, source)
    ds = _normalise_grid(ds, source)
    if entry.role == "ensemble_forecast" and "member" not in ds.dims:
        ds = ds.expand_dims(member=[0])
    order = ("time", "init_time", "lead_time", "member", "lat", "lon")
    ds = ds.transpose(*[d for d in order if d in ds.dims])
    attrs = {"source": source, "entry": entry.name, "role": entry.role}
    if entry.lag_window is not None:  # the catalog's times are those of the lagged ensemble
        ds = group_lagged(validate(ds, entry.role, source), pd.Timedelta(entry.lag_window), source)
        ds = _select(ds, entry, source, levels=False, members=False)
        attrs[LAG_ATTR] = entry.lag_window
    ds.attrs = attrs
    return validate(ds, entry.role, source)


def _time_axes(ds: xr.Dataset, role: str, source: str, lagged: bool = False) -> xr.Dataset:
    drop = [c for c in ("valid_time", "surface", "heightAboveGround", "meanSea") if c in ds.coords]
    ds = ds.drop_vars(drop)
    if role == "ensemble_forecast":
        if "time" in ds.coords and "init_time" not in ds.coords:
            ds = ds.rename(time="init_time")
        if "init_time" in ds.coords and ds["init_time"].dims not in ((), ("init_time",)):
            if lagged:  # one start per member: the (init_time, member) cube
                return _time_axes(cube_of_starts(ds, source), role, source)
            starts = ds["init_time"].to_series().drop_duplicates().sort_values()
            raise DataError(
                "its members start at different times (a time-lagged ensemble: init times "
                f"{', '.join(np.datetime_as_string(starts.values, unit='m'))} vary along "
                f"{list(ds['init_time'].dims)}); give the entry a lag_window (e.g. 12h) to "
                "group them by valid time, or make one catalog entry per init time",
                source,
            )
        for name in ("init_time", "lead_time"):
            if name in ds.coords and name not in ds.dims:
                ds = ds.expand_dims(name)
    else:
        if "lead_time" in ds.coords and "lead_time" not in ds.dims:
            lead = ds["lead_time"].values
            if lead != np.timedelta64(0, "ns"):
                ds = ds.assign_coords(time=ds["time"] + lead)
            ds = ds.drop_vars("lead_time")
        if "time" in ds.coords and "time" not in ds.dims:
            ds = ds.expand_dims("time")
    return ds


def _select(
    ds: xr.Dataset,
    entry: Entry,
    source: str,
    *,
    levels: bool = True,
    members: bool = True,
    times: bool = True,
) -> xr.Dataset:
    """The catalog's selections of levels, members, and lead and init times (each if asked)."""
    try:
        if levels and entry.levels is not None:
            if "level" not in ds.dims:
                raise DataError("'levels' is set but the data have no level dimension", source)
            ds = ds.sel(level=list(entry.levels))
        if members and entry.members is not None:
            ds = ds.sel(member=list(entry.members))
        if times and entry.lead_times is not None:
            ds = ds.sel(lead_time=pd.to_timedelta(list(entry.lead_times)).values)
        if times and entry.time is not None:
            axis = "time" if "time" in ds.dims else "init_time"
            ds = ds.sel({axis: slice(entry.time.get("start"), entry.time.get("end"))})
    except KeyError as error:
        raise DataError(f"a selection in the catalog is not in the data: {error}", source) from None
    return ds


def _split_levels_and_rename(ds: xr.Dataset, entry: Entry, source: str) -> xr.Dataset:
    explicit = {}
    for short, source_name in (entry.variables or {}).items():
        if source_name is not None:
            if source_name not in ds.data_vars:
                raise DataError(
                    f"'variables' maps {short} to {source_name!r}, which is not in the data; "
                    f"it has {sorted(map(str, ds.data_vars))}",
                    source,
                )
            quantity, _ = lexicon.split_short_name(short)
            explicit[source_name] = quantity
    out: dict[str, xr.DataArray] = {}
    for name, da in ds.data_vars.items():
        quantity = explicit.get(str(name)) or lexicon.quantity_for(str(name))
        if quantity is None:
            log.info("%s: skipping variable %r, which the lexicon does not know", source, name)
            continue
        scale, offset = lexicon.conversion_to_standard(
            quantity, da.attrs.get("units"), f"{source} ({name})"
        )
        if scale != 1.0 or offset != 0.0:
            da = da * scale + offset
        if "level" in da.dims:
            for level in da["level"].values:
                out[lexicon.short_name(quantity, level)] = da.sel(level=level, drop=True)
        else:
            level = da["level"].item() if "level" in da.coords else None
            out[lexicon.short_name(quantity, level)] = da.drop_vars("level", errors="ignore")
    if entry.variables is not None:
        missing = [short for short in entry.variables if short not in out]
        if missing:
            raise DataError(
                f"variables {missing} not found; the file provides {sorted(out) or 'none the lexicon knows'}",
                source,
            )
        out = {short: out[short] for short in entry.variables}
    if not out:
        raise DataError(
            f"no variable the lexicon knows (found {sorted(map(str, ds.data_vars))}); "
            "map them with 'variables: {short_name: source_name}' in the catalog",
            source,
        )
    result = xr.Dataset({k: v.rename(k) for k, v in out.items()})
    for short in result.data_vars:
        result[short].attrs = lexicon.cf_attrs(str(short))
    return result.drop_vars([c for c in result.coords if c == "level"], errors="ignore")


def _normalise_grid(ds: xr.Dataset, source: str) -> xr.Dataset:
    for name in ("lat", "lon"):
        if name not in ds.coords:
            raise DataError(
                f"no {name!r} coordinate (looked for {name}/latitude/longitude)", source
            )
        if ds[name].dims != (name,):
            raise DataError(
                f"is not on a regular latitude/longitude grid ({name} varies along "
                f"{list(ds[name].dims)}: a reduced Gaussian or unstructured grid); regrid it to a "
                "regular grid first (e.g. cdo remapbil or earthkit-regrid)",
                source,
            )
    lon = np.mod(ds["lon"].values.astype(float), 360.0)
    ds = ds.assign_coords(lon=("lon", lon, lexicon.COORDINATE_ATTRS["lon"]))
    ds = ds.sortby(["lat", "lon"])
    ds["lat"].attrs = dict(lexicon.COORDINATE_ATTRS["lat"])
    return ds


def validate(ds: xr.Dataset, role: str, source: str) -> xr.Dataset:
    """Check dimensions, coordinates and grid; raise one clear :class:`DataError` if wrong."""
    required = ("time",) if role == "reanalysis" else ("init_time", "lead_time", "member")
    for name in (*required, "lat", "lon"):
        if name not in ds.dims:
            raise DataError(
                f"a {role} needs a {name!r} dimension; found dimensions {dict(ds.sizes)}", source
            )
    allowed = {*required, "member", "lat", "lon"}
    extra = sorted(str(d) for d in ds.dims if d not in allowed)
    if extra:
        hint = (
            "; is it an ensemble forecast (role: ensemble_forecast), or select one lead time"
            if role == "reanalysis" and "lead_time" in extra
            else "; select one value of each in the catalog, or drop the variables that have them"
        )
        raise DataError(
            f"a {role} has dimensions {sorted(allowed)}, and the data also have {extra}{hint}",
            source,
        )
    lat, lon = ds["lat"].values, ds["lon"].values
    if lat.size < 2 or lon.size < 2:
        raise DataError(f"grid too small ({lat.size} x {lon.size})", source)
    if np.any(np.abs(lat) > 90):
        raise DataError(f"latitudes outside [-90, 90] (min {lat.min()}, max {lat.max()})", source)
    for name, values in (("lat", lat), ("lon", lon)):
        if np.any(np.diff(values) <= 0):
            raise DataError(f"{name} has repeated values", source)
    steps = np.diff(lon)
    if not np.allclose(steps, steps[0], rtol=1e-4):
        raise DataError("longitudes are not evenly spaced; regrid the source first", source)
    for name in ("time", "init_time", "lead_time", "member"):
        if name in ds.dims and ds.indexes[name].has_duplicates:
            duplicated = ds.indexes[name][ds.indexes[name].duplicated()][:3].tolist()
            raise DataError(f"duplicate {name} values, e.g. {duplicated}", source)
    for name, da in ds.data_vars.items():
        if not set(ds[name].dims) >= {"lat", "lon"}:
            raise DataError(f"variable {name!r} has dimensions {da.dims}, lacking lat/lon", source)
    return ds
