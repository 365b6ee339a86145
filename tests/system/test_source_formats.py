"""Every storage format and encoding a source comes in prepares from the command line, and
ERA5 in WeatherBench2's exact layout (zarr v2, consolidated, Blosc) prepares and scores."""

from __future__ import annotations

from pathlib import Path

import numcodecs
import numpy as np
import pandas as pd
import properscoring
import pytest
import xarray as xr
from conftest import run_cli, synthetic_reanalysis
from source_formats import VARIANTS, expected_field, with_holes, write_source

from pipelines.grid import cell_area_weights
from pipelines.store import open_complete

TIMES = pd.date_range("2020-01-01", periods=6, freq="6h")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_source_variant_prepares_from_the_command_line(variant, tmp_path):
    spec = VARIANTS[variant]
    source = with_holes(synthetic_reanalysis(TIMES, n_lat=10, n_lon=18))
    path, stored = write_source(source, tmp_path, variant)
    (tmp_path / "catalog.yaml").write_text(
        f"src: {{role: reanalysis, format: {spec.format}, path: {path.name}}}\n"
    )
    done = run_cli(
        "prepare",
        "src",
        "--catalog",
        str(tmp_path / "catalog.yaml"),
        "--out",
        str(tmp_path / "out"),
        "-q",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # no traceback, no warning, no log noise
    prepared = open_complete(tmp_path / "out" / "src.zarr").load()
    for level in (500, 850):
        expected = expected_field(stored, "geopotential", level).values
        np.testing.assert_allclose(
            prepared[f"z{level}"].values, expected, rtol=1e-6, equal_nan=True
        )


def weatherbench2_era5(path: Path, times: pd.DatetimeIndex) -> xr.Dataset:
    """ERA5 as WeatherBench2 stores it: its variable names, ``time, level, latitude,
    longitude``, latitude from 90 to -90 with both poles, zarr v2, consolidated, Blosc."""
    rng = np.random.default_rng(3)
    latitude = np.linspace(90, -90, 37)
    longitude = np.arange(0, 360, 5.0)
    level = np.array([500, 700, 850], dtype="int64")
    upper = (len(times), level.size, latitude.size, longitude.size)
    surface = (len(times), latitude.size, longitude.size)
    dims = ("time", "level", "latitude", "longitude")

    def field(shape, mean, spread):
        return (mean + spread * rng.standard_normal(shape)).astype("f4")

    ds = xr.Dataset(
        {
            "geopotential": (dims, field(upper, 5.4e4, 600), {"units": "m**2 s**-2"}),
            "temperature": (dims, field(upper, 260, 8), {"units": "K"}),
            "u_component_of_wind": (dims, field(upper, 8, 10), {"units": "m s**-1"}),
            "v_component_of_wind": (dims, field(upper, 0, 8), {"units": "m s**-1"}),
            "specific_humidity": (dims, field(upper, 3e-3, 1e-3), {"units": "kg kg**-1"}),
            "2m_temperature": (dims[:1] + dims[2:], field(surface, 285, 12), {"units": "K"}),
            "mean_sea_level_pressure": (
                dims[:1] + dims[2:],
                field(surface, 1.01e5, 900),
                {"units": "Pa"},
            ),
        },
        coords={"time": times, "level": level, "latitude": latitude, "longitude": longitude},
    )
    blosc = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    encoding = {
        name: {"compressors": [blosc], "chunks": (1, *ds[name].shape[1:])} for name in ds.data_vars
    }
    encoding["time"] = {"units": "hours since 1959-01-01", "dtype": "int64"}
    ds.to_zarr(path, zarr_format=2, consolidated=True, encoding=encoding, mode="w")
    return ds


CATALOG = "era5: {role: reanalysis, format: zarr, path: era5.zarr}\n"


def test_weatherbench2_era5_prepares(tmp_path):
    source = weatherbench2_era5(tmp_path / "era5.zarr", TIMES)
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    done = run_cli(
        "prepare",
        "era5",
        "--catalog",
        str(tmp_path / "catalog.yaml"),
        "--out",
        str(tmp_path / "out"),
        "-q",
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    prepared = open_complete(tmp_path / "out" / "era5.zarr").load()
    names = {"geopotential": "z", "temperature": "t", "u_component_of_wind": "u"}
    names |= {"v_component_of_wind": "v", "specific_humidity": "q"}
    expected_names = {f"{short}{level}" for short in names.values() for level in (500, 700, 850)}
    assert set(prepared.data_vars) == expected_names | {"t2m", "msl"}
    np.testing.assert_array_equal(prepared["lat"].values, np.linspace(-90, 90, 37))
    for name, short in names.items():
        for level in (500, 700, 850):
            np.testing.assert_array_equal(
                prepared[f"{short}{level}"].values,
                source[name].sel(level=level).values[:, ::-1],
            )
    np.testing.assert_array_equal(prepared["t2m"].values, source["2m_temperature"].values[:, ::-1])


def test_weatherbench2_era5_is_the_truth_for_score(tmp_path):
    """``forecast score --truth era5``: CRPS against properscoring on the ERA5 values at valid time."""
    source = weatherbench2_era5(tmp_path / "era5.zarr", TIMES)
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    init, leads, members = TIMES[:2], pd.to_timedelta([6, 12], unit="h"), 5
    rng = np.random.default_rng(9)
    lat, lon = source["latitude"].values[::-1], source["longitude"].values
    shape = (init.size, leads.size, members, lat.size, lon.size)
    ensemble = xr.Dataset(
        {
            "z500": (
                ("init_time", "lead_time", "member", "lat", "lon"),
                (5.4e4 + 600 * rng.standard_normal(shape)).astype("f4"),
            )
        },
        coords={
            "init_time": init,
            "lead_time": leads,
            "member": np.arange(members),
            "lat": lat,
            "lon": lon,
        },
    )
    ensemble.to_netcdf(tmp_path / "ens.nc")
    out = tmp_path / "scores.nc"
    done = run_cli(
        "score",
        "--forecast",
        str(tmp_path / "ens.nc"),
        "--truth",
        "era5",
        "--catalog",
        str(tmp_path / "catalog.yaml"),
        "--out",
        str(out),
        "-q",
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    scores = xr.open_dataset(out)
    weights = cell_area_weights(xr.DataArray(lat, dims="lat")).values[None, :, None]
    for j, lead in enumerate(leads):
        truth = source["geopotential"].sel(level=500, time=init + lead).values[:, ::-1]
        pointwise = properscoring.crps_ensemble(
            truth, np.moveaxis(ensemble["z500"].values[:, j], 1, -1)
        )
        expected = np.average(pointwise, weights=weights * np.ones(pointwise.shape))
        np.testing.assert_allclose(
            float(scores["crps_nrg"].sel(variable="z500").isel(lead_time=j)), expected, rtol=1e-5
        )
