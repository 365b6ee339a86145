"""Write a reanalysis-like dataset in the storage formats and encodings real sources use.

``write_source(ds, folder, variant)`` writes ``ds`` (dims ``time, level, latitude,
longitude``; variables ``geopotential`` and/or ``temperature``) as one file or store, and
returns its path with ``stored``: the values the file holds, worked out in closed form
(GRIB is in kelvin; packed netCDF holds ``round((x - offset) / scale)``), so an oracle can
compare a prepared store with the source without going through the reader under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pandas as pd
import xarray as xr
import zarr

GRIB_MISSING = 9999.0
GRIB_SHORT = {"geopotential": "z", "temperature": "t"}


@dataclass(frozen=True)
class Variant:
    """One way a source can be stored: the catalog ``format`` and its encoding."""

    name: str
    format: str  # catalog format: netcdf, grib, zarr
    suffix: str

    @property
    def zarr_format(self) -> int | None:
        return {"zarr2": 2, "zarr3": 3}.get(self.name.split("-")[0])


VARIANTS = {
    v.name: v
    for v in (
        Variant("netcdf-plain", "netcdf", "nc"),
        Variant("netcdf-zlib", "netcdf", "nc"),
        Variant("netcdf-packed", "netcdf", "nc"),
        Variant("grib2", "grib", "grib"),
        Variant("zarr2-blosc-consolidated", "zarr", "zarr"),
        Variant("zarr2-blosc", "zarr", "zarr"),
        Variant("zarr2-zstd-fill", "zarr", "zarr"),
        Variant("zarr2-none", "zarr", "zarr"),
        Variant("zarr3-blosc", "zarr", "zarr"),
        Variant("zarr3-zstd-fill", "zarr", "zarr"),
        Variant("zarr3-none-consolidated", "zarr", "zarr"),
    )
}


def with_holes(ds: xr.Dataset, fraction: float = 0.1, seed: int = 5) -> xr.Dataset:
    """Missing points (never a whole field), as land-masked or gappy sources have."""
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    for name in out.data_vars:
        values = out[name].values
        holes = rng.random(values.shape) < fraction
        holes[..., 0, 0] = False
        values[holes] = np.nan
    return out


def write_source(ds: xr.Dataset, folder: Path, variant: str) -> tuple[Path, xr.Dataset]:
    """Write ``ds`` as ``variant`` into ``folder``; return (path, the values it stores)."""
    spec = VARIANTS[variant]
    path = folder / f"source.{spec.suffix}"
    if spec.format == "grib":
        stored = _in_kelvin(ds)
        write_grib(stored, path)
        return path, stored
    if variant == "netcdf-packed":
        ds.to_netcdf(path, encoding={name: _packing(ds[name]) for name in ds.data_vars})
        return path, _unpacked(ds, path)
    if spec.format == "netcdf":
        encoding = {"zlib": True, "complevel": 4} if variant == "netcdf-zlib" else {}
        ds.to_netcdf(path, encoding=_per_variable(ds, encoding))
        return path, ds
    codec = _zarr_encoding(variant, spec.zarr_format)
    encoding = _per_variable(ds, codec)
    # ERA5's time axis, as WeatherBench2 stores it: integer hours since an epoch
    encoding["time"] = {"units": "hours since 1959-01-01", "dtype": "int64"}
    ds.to_zarr(
        path,
        zarr_format=spec.zarr_format,
        consolidated="consolidated" in variant,
        encoding=encoding,
        mode="w",
    )
    return path, ds


def expected_field(source: xr.Dataset, name: str, level: int) -> xr.DataArray:
    """The oracle, written independently of the reader: select, convert, sort."""
    da = source[name].sel(level=level, drop=True)
    if source[name].attrs["units"] == "degC":
        da = da + np.float32(273.15)
    da = da.assign_coords(longitude=np.mod(da["longitude"].values, 360.0))
    return da.sortby(["latitude", "longitude"]).rename(latitude="lat", longitude="lon")


def _per_variable(ds: xr.Dataset, encoding: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: dict(encoding) for name in ds.data_vars}


def _packing(da: xr.DataArray) -> dict[str, Any]:
    """int16 packing over the variable's range, as ERA5's netCDF files from the CDS have it
    (-32767 is kept for missing values)."""
    low, high = float(da.min()), float(da.max())
    return {
        "dtype": "int16",
        "scale_factor": max(high - low, 1.0) / 65532,
        "add_offset": (high + low) / 2,
        "_FillValue": -32767,
    }


def _unpacked(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """What an int16-packed netCDF file holds, from its raw codes: q scale + offset, NaN
    where q is the fill value (the codes as written, not xarray's decoding of them)."""
    out = ds.copy()
    with xr.open_dataset(path, mask_and_scale=False) as raw:
        for name in ds.data_vars:
            codes = raw[name].values.astype("f8")
            scale, offset = raw[name].attrs["scale_factor"], raw[name].attrs["add_offset"]
            unpacked = codes * scale + offset
            unpacked[raw[name].values == raw[name].attrs["_FillValue"]] = np.nan
            out[name] = ds[name].copy(data=unpacked)
    return out


def _zarr_encoding(variant: str, zarr_format: int | None) -> dict[str, Any]:
    codec = variant.split("-")[1]
    encoding: dict[str, Any] = {}
    if zarr_format == 2:  # numcodecs, as zarr-python 2 (and WeatherBench2's stores) have them
        encoding["compressors"] = {
            "blosc": [numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)],
            "zstd": [numcodecs.Zstd(level=3)],
            "none": None,
        }[codec]
    else:
        encoding["compressors"] = {
            "blosc": [zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")],
            "zstd": [zarr.codecs.ZstdCodec(level=3)],
            "none": None,
        }[codec]
    if variant.endswith("-fill"):
        encoding["_FillValue"] = np.float32(-9999.0)
    return encoding


def _in_kelvin(ds: xr.Dataset) -> xr.Dataset:
    """GRIB holds temperature in K: the source as such a file has it."""
    out = ds.copy()
    for name in out.data_vars:
        if out[name].attrs.get("units") == "degC":
            out[name] = (out[name] + np.float32(273.15)).astype("f4")
            out[name].attrs = {"units": "K"}
    return out


def regular_grid_keys(lat: np.ndarray, lon: np.ndarray) -> dict[str, Any]:
    """ecCodes keys of a regular lat/lon grid (GRIB2: longitudes 0..360, ascending)."""
    return {
        "Ni": lon.size,
        "Nj": lat.size,
        "latitudeOfFirstGridPointInDegrees": float(lat[0]),
        "latitudeOfLastGridPointInDegrees": float(lat[-1]),
        "longitudeOfFirstGridPointInDegrees": float(lon[0]),
        "longitudeOfLastGridPointInDegrees": float(lon[-1]),
        "iDirectionIncrementInDegrees": float(lon[1] - lon[0]),
        "jDirectionIncrementInDegrees": float(abs(lat[1] - lat[0])),
        "jScansPositively": int(lat[1] > lat[0]),
    }


def write_grib(ds: xr.Dataset, path: Path) -> None:
    """GRIB2 on a regular lat/lon grid (longitudes 0..360 ascending, as GRIB2 has them),
    32-bit IEEE values so nothing is lost, NaN as a bitmap of missing points."""
    import eccodes

    ds = ds.assign_coords(longitude=np.mod(ds["longitude"].values, 360.0)).sortby("longitude")
    lat, lon = ds["latitude"].values, ds["longitude"].values
    with open(path, "wb") as out:
        for name in ds.data_vars:
            for time in ds["time"].values:
                for level in ds["level"].values:
                    field = ds[name].sel(time=time, level=level).values
                    handle = eccodes.codes_grib_new_from_samples("regular_ll_pl_grib2")
                    stamp = np.datetime_as_string(time, unit="m")
                    keys = {
                        **regular_grid_keys(lat, lon),
                        "dataDate": int(stamp[:10].replace("-", "")),
                        "dataTime": int(stamp[11:].replace(":", "")),
                        "typeOfLevel": "isobaricInhPa",
                        "level": int(level),
                        "shortName": GRIB_SHORT[str(name)],
                        "packingType": "grid_ieee",
                        "precision": 1,
                        "bitmapPresent": 1,
                        "missingValue": GRIB_MISSING,
                    }
                    for key, value in keys.items():
                        eccodes.codes_set(handle, key, value)
                    values = np.where(np.isnan(field), GRIB_MISSING, field).astype("f8")
                    eccodes.codes_set_values(handle, values.ravel())
                    eccodes.codes_write(handle, out)
                    eccodes.codes_release(handle)


def grib_ensemble(path: Path, init: pd.Timestamp, members: list[int], steps_h: list[int]) -> None:
    """An ensemble forecast as ECMWF writes it: GRIB2 template 4.1 (member number), steps in h."""
    import eccodes

    rng = np.random.default_rng(init.hour + members[0])
    with open(path, "wb") as out:
        for member in members:
            for step in steps_h:
                handle = eccodes.codes_grib_new_from_samples("regular_ll_pl_grib2")
                keys = {
                    **regular_grid_keys(np.linspace(90, -90, 10), np.arange(0, 360, 20.0)),
                    "dataDate": int(init.strftime("%Y%m%d")),
                    "dataTime": int(init.strftime("%H%M")), "typeOfLevel": "isobaricInhPa",
                    "level": 500, "shortName": "t", "productDefinitionTemplateNumber": 1,
                    "perturbationNumber": member, "numberOfForecastsInEnsemble": 4,
                    "typeOfEnsembleForecast": 3, "indicatorOfUnitOfTimeRange": 1,
                    "forecastTime": step,
                }  # fmt: skip
                for key, value in keys.items():
                    eccodes.codes_set(handle, key, value)
                eccodes.codes_set_values(handle, rng.standard_normal(180) + 260.0)
                eccodes.codes_write(handle, out)
                eccodes.codes_release(handle)
