"""Shared fixtures: small synthetic datasets written in the layouts real sources use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pipelines  # noqa: F401  (before anything loads ecCodes: see pipelines/_library_order.py)

# CLI calls in the tests compute with threads; test_cluster.py starts its own clusters.
os.environ.setdefault("FORECAST_SCHEDULER", "threads")

ROOT = Path(__file__).resolve().parent.parent  # the repository
DATA = ROOT / "tests" / "data"
ERA5_GRIB = DATA / "era5-levels-members.grib"
CORRUPTED_GRIB = DATA / "era5-levels-corrupted.grib"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``forecast ARGS`` as a user runs it: a new process with its own stderr, on which every
    warning is shown (``PYTHONWARNINGS=default``); ``env`` replaces this process's."""
    env = {**(os.environ if env is None else env), "PYTHONWARNINGS": "default"}
    return subprocess.run(
        [sys.executable, "-m", "forecast.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def synthetic_reanalysis(
    times: pd.DatetimeIndex, n_lat: int = 19, n_lon: int = 36, seed: int = 0
) -> xr.Dataset:
    """ERA5-like source: 'latitude' descending, 'longitude' -180..180, 'level', CF units."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(90, -90, n_lat)
    lon = np.linspace(-180, 180, n_lon, endpoint=False)
    level = np.array([500, 850])
    shape = (times.size, level.size, n_lat, n_lon)
    z = 5.5e4 + 500 * rng.standard_normal(shape)
    t = 260.0 + 5 * rng.standard_normal(shape)
    coords = {"time": times, "level": level, "latitude": lat, "longitude": lon}
    return xr.Dataset(
        {
            "geopotential": (
                ("time", "level", "latitude", "longitude"),
                z.astype("f4"),
                {"units": "m**2 s**-2"},
            ),
            "temperature": (
                ("time", "level", "latitude", "longitude"),
                t.astype("f4"),
                {"units": "K"},
            ),
        },
        coords=coords,
    )


def synthetic_forecast(
    init_times: pd.DatetimeIndex,
    steps_h: list[int],
    members: int = 3,
    n_lat: int = 19,
    n_lon: int = 36,
    seed: int = 1,
) -> xr.Dataset:
    """ENS-like source: 'time' (init), 'step', 'number', 'isobaricInhPa', temperature in degC."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(90, -90, n_lat)
    lon = np.linspace(0, 360, n_lon, endpoint=False)
    shape = (init_times.size, len(steps_h), members, 1, n_lat, n_lon)
    coords = {
        "time": init_times,
        "step": pd.to_timedelta(steps_h, unit="h"),
        "number": np.arange(members),
        "isobaricInhPa": [500.0],
        "latitude": lat,
        "longitude": lon,
    }
    dims = ("time", "step", "number", "isobaricInhPa", "latitude", "longitude")
    return xr.Dataset(
        {
            "z": (
                dims,
                (5.5e4 + 500 * rng.standard_normal(shape)).astype("f4"),
                {"units": "m**2 s**-2"},
            ),
            "t": (dims, (-13.0 + 5 * rng.standard_normal(shape)).astype("f4"), {"units": "degC"}),
        },
        coords=coords,
    )


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A folder with a reanalysis (netCDF), a forecast (zarr) and a catalog naming them."""
    times = pd.date_range("2020-01-01", periods=16, freq="6h")
    synthetic_reanalysis(times).to_netcdf(tmp_path / "reanalysis.nc")
    synthetic_forecast(times[:4], [0, 6, 12, 24]).to_zarr(tmp_path / "ens.zarr", zarr_format=3)
    (tmp_path / "catalog.yaml").write_text(
        """
rean:
  role: reanalysis
  format: netcdf
  path: reanalysis.nc
ens:
  role: ensemble_forecast
  format: zarr
  path: ens.zarr
  truth: rean
  variables: [z500, t500]
"""
    )
    return tmp_path


@pytest.fixture(scope="session")
def tiny_worlds(tmp_path_factory) -> dict[bool, Path]:
    """The tiny world built once per test session, without and with model error."""
    from pipelines.world import WorldSettings, build_world

    cache = tmp_path_factory.mktemp("world")
    return {
        error: build_world(WorldSettings(profile="tiny", model_error=error), cache, progress=False)
        for error in (False, True)
    }


@pytest.fixture(scope="session")
def tiny_catalog(tiny_worlds, tmp_path_factory) -> Path:
    """The project's catalog with the world entries on the tiny profile and the session's cache."""
    from pipelines import load_catalog

    folder = tmp_path_factory.mktemp("catalog")
    text = load_catalog().path.read_text().replace("profile: default", "profile: tiny")
    text = text.replace("path: data/world", f"path: {tiny_worlds[True].parent}")
    (folder / "catalog.yaml").write_text(text)
    return folder / "catalog.yaml"


@pytest.fixture(scope="session")
def tiny_prepared(tiny_catalog, tmp_path_factory) -> dict[str, Path]:
    """The tiny world (with model error) prepared through the catalog: entry name -> store."""
    from pipelines import load_catalog
    from pipelines.prepare import prepare_entry

    folder = tmp_path_factory.mktemp("prepared")
    catalog = load_catalog(tiny_catalog)
    return {
        name: prepare_entry(name, catalog, folder, progress=False)
        for name in ("world-truth", "world-reforecast", "world-operational")
    }


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_prepared, tmp_path_factory) -> Path:
    """A SEEDS-GEE checkpoint trained for two steps on the tiny world (for plumbing, not skill)."""
    from forecast.train import budget_config, train

    out = tmp_path_factory.mktemp("checkpoint") / "gee"
    config = budget_config("seeds-gee", "tiny", steps=2)
    return train(tiny_prepared["world-reforecast"], out, config, progress=False)
