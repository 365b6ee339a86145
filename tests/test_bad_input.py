"""A catalogue of bad inputs, each run through the CLI.

Every case must give exit status 2, one error line that names the file (or catalog,
or checkpoint) and says what is wrong, and leave nothing at a final store path: what
may be left is a ``.partial`` store that resumes or is discarded on the next run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import CORRUPTED_GRIB, ERA5_GRIB, synthetic_forecast, synthetic_reanalysis

from forecast.cli import main
from pipelines.lexicon import STANDARD_GRAVITY

TIMES = pd.date_range("2020-01-01", periods=8, freq="6h")
REANALYSIS = "rean: {role: reanalysis, format: netcdf, path: rean.nc}\n"
FORECAST = (
    "ens: {role: ensemble_forecast, format: netcdf, path: ens.nc, truth: rean, "
    "variables: [z500, t500]}\n"
)


@dataclass(frozen=True)
class Case:
    """A bad input: ``make`` writes it into a folder and returns the CLI arguments."""

    make: Callable[[Path], list[str]]
    says: tuple[str, ...]  # fragments the error line must contain (the file's name among them)


def prepare(folder: Path, entry: str, catalog: str) -> list[str]:
    (folder / "catalog.yaml").write_text(catalog)
    return [
        "prepare",
        entry,
        "--catalog",
        str(folder / "catalog.yaml"),
        "--out",
        str(folder / "out"),
        "-q",
    ]


def reanalysis(folder: Path, edit: Callable[[xr.Dataset], xr.Dataset] = lambda ds: ds) -> Path:
    path = folder / "rean.nc"
    edit(synthetic_reanalysis(TIMES, n_lat=10, n_lon=18)).to_netcdf(path)
    return path


def forecast(folder: Path, steps_h=(0, 6, 12), edit=lambda ds: ds) -> Path:
    path = folder / "ens.nc"
    edit(synthetic_forecast(TIMES[:3], list(steps_h), n_lat=10, n_lon=18)).to_netcdf(path)
    return path


def grib_truncated(folder: Path) -> list[str]:
    data = ERA5_GRIB.read_bytes()
    (folder / "cut.grib").write_bytes(data[: len(data) // 2 + 17])
    return prepare(folder, "cut", "cut: {role: reanalysis, format: grib, path: cut.grib}\n")


def grib_corrupted(folder: Path) -> list[str]:
    shutil.copy(CORRUPTED_GRIB, folder / "bad.grib")
    return prepare(folder, "bad", "bad: {role: reanalysis, format: grib, path: bad.grib}\n")


def netcdf_garbage(folder: Path) -> list[str]:
    (folder / "rean.nc").write_bytes(np.random.default_rng(0).bytes(5000))
    return prepare(folder, "rean", REANALYSIS)


def netcdf_truncated(folder: Path) -> list[str]:
    path = reanalysis(folder)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    return prepare(folder, "rean", REANALYSIS)


def zarr_store(folder: Path) -> Path:
    path = folder / "rean.zarr"
    synthetic_reanalysis(TIMES, n_lat=10, n_lon=18).to_zarr(path, zarr_format=3)
    return path


def zarr_chunk_corrupted(folder: Path) -> list[str]:
    path = zarr_store(folder)
    chunk = next(
        p
        for p in sorted((path / "geopotential").rglob("*"))
        if p.is_file() and p.name != "zarr.json"
    )
    chunk.write_bytes(b"not a compressed chunk" * 10)
    return prepare(folder, "rean", "rean: {role: reanalysis, format: zarr, path: rean.zarr}\n")


def zarr_metadata_missing(folder: Path) -> list[str]:
    path = zarr_store(folder)
    (path / "zarr.json").unlink()
    return prepare(folder, "rean", "rean: {role: reanalysis, format: zarr, path: rean.zarr}\n")


def missing_variable(folder: Path) -> list[str]:
    reanalysis(folder)
    return prepare(
        folder,
        "rean",
        "rean: {role: reanalysis, format: netcdf, path: rean.nc, variables: [z500, q700]}\n",
    )


def no_latitude(folder: Path) -> list[str]:
    reanalysis(folder, lambda ds: ds.rename(latitude="y", longitude="x"))
    return prepare(folder, "rean", REANALYSIS)


def no_time(folder: Path) -> list[str]:
    reanalysis(folder, lambda ds: ds.isel(time=0, drop=True))
    return prepare(folder, "rean", REANALYSIS)


def latitudes_beyond_the_pole(folder: Path) -> list[str]:
    reanalysis(folder, lambda ds: ds.assign_coords(latitude=np.linspace(100, -80, 10)))
    return prepare(folder, "rean", REANALYSIS)


def all_nan_field(folder: Path) -> list[str]:
    def blank(ds: xr.Dataset) -> xr.Dataset:
        ds["geopotential"][5, 0] = np.nan
        return ds

    reanalysis(folder, blank)
    return prepare(folder, "rean", REANALYSIS)


def geopotential_as_height(folder: Path) -> list[str]:
    def as_height(ds: xr.Dataset) -> xr.Dataset:
        ds["geopotential"] = ds["geopotential"] / STANDARD_GRAVITY
        ds["geopotential"].attrs["units"] = "m"
        return ds

    reanalysis(folder, as_height)
    return prepare(folder, "rean", REANALYSIS)


def duplicate_init_times(folder: Path) -> list[str]:
    reanalysis(folder)
    forecast(folder, edit=lambda ds: ds.assign_coords(time=TIMES[[0, 1, 1]]))
    return prepare(folder, "ens", REANALYSIS + FORECAST)


def leads_off_the_truth_times(folder: Path) -> list[str]:
    reanalysis(folder)
    forecast(folder, steps_h=(0, 3, 6))
    return prepare(folder, "ens", REANALYSIS + FORECAST)


def truth_on_a_regional_grid(folder: Path) -> list[str]:
    reanalysis(folder, lambda ds: ds.sel(latitude=slice(90, 0)))
    forecast(folder)
    return prepare(folder, "ens", REANALYSIS + FORECAST)


def forecast_without_truth(folder: Path) -> list[str]:
    forecast(folder)
    return prepare(folder, "ens", "ens: {role: ensemble_forecast, format: netcdf, path: ens.nc}\n")


def path_does_not_exist(folder: Path) -> list[str]:
    return prepare(folder, "rean", REANALYSIS)


def invalid_yaml(folder: Path) -> list[str]:
    return prepare(folder, "rean", "rean: {role: reanalysis, format: netcdf, path: [unclosed\n")


def empty_entry(folder: Path) -> list[str]:
    return prepare(folder, "rean", "rean:\n")


def misspelled_entry(folder: Path) -> list[str]:
    reanalysis(folder)
    return prepare(folder, "reen", REANALYSIS)


def catalog_does_not_exist(folder: Path) -> list[str]:
    return ["prepare", "rean", "--catalog", str(folder / "catalog.yaml"), "--out", str(folder)]


def output_not_writable(folder: Path) -> list[str]:
    reanalysis(folder)
    args = prepare(folder, "rean", REANALYSIS)
    (folder / "out").write_text("a file where the output folder should be")
    return args


def checkpoint_of_another_kind(folder: Path) -> list[str]:
    (folder / "ckpt").mkdir()
    (folder / "ckpt" / "model.safetensors").write_bytes(b"")
    (folder / "ckpt" / "config.json").write_text(json.dumps({"kind": "unet-2d", "step": 3}))
    return generate_args(folder, folder / "ckpt", folder / "source.zarr")


def generate_args(folder: Path, checkpoint: Path, source: Path) -> list[str]:
    return [
        "generate", "--checkpoint", str(checkpoint), "--from", str(source),
        "--members", "2", "--out", str(folder / "out" / "ens.zarr"), "-q",
    ]  # fmt: skip


CASES = {
    "GRIB, corrupted message": Case(grib_corrupted, ("bad.grib", "cannot be read as GRIB")),
    "GRIB, truncated": Case(grib_truncated, ("cut.grib", "GRIB")),
    "netCDF, not a netCDF file": Case(netcdf_garbage, ("rean.nc", "is not a netCDF file")),
    "netCDF, truncated": Case(netcdf_truncated, ("rean.nc",)),
    "zarr, corrupted chunk": Case(zarr_chunk_corrupted, ("rean.zarr", "truncated or corrupted")),
    "zarr, metadata missing": Case(zarr_metadata_missing, ("rean.zarr", "cannot be read as zarr")),
    "missing variable": Case(missing_variable, ("rean.nc", "['q700'] not found", "provides")),
    "no latitude dimension": Case(no_latitude, ("rean.nc", "no 'lat' coordinate")),
    "reanalysis without time": Case(no_time, ("rean.nc", "needs a 'time' dimension")),
    "latitudes beyond the pole": Case(latitudes_beyond_the_pole, ("rean.nc", "outside [-90, 90]")),
    "all-NaN field": Case(
        all_nan_field, ("rean.nc", "'z500' is entirely missing", "2020-01-02T06")
    ),
    "geopotential given as height": Case(geopotential_as_height, ("rean.nc", "units 'm'", "gh")),
    "duplicate init times": Case(duplicate_init_times, ("ens.nc", "duplicate init_time")),
    "lead times off the truth's times": Case(
        leads_off_the_truth_times, ("rean.nc", "not reanalysis times", "2020-01-01T03")
    ),
    "truth on another (regional) grid": Case(
        truth_on_a_regional_grid, ("rean.nc", "does not cover the forecast's grid", "latitudes")
    ),
    "forecast without a truth entry": Case(forecast_without_truth, ("ens", "needs 'truth:")),
    "path does not exist": Case(path_does_not_exist, ("rean.nc", "no such file or directory")),
    "invalid YAML": Case(invalid_yaml, ("catalog.yaml", "not valid YAML at line 2")),
    "empty catalog entry": Case(empty_entry, ("catalog.yaml", "rean")),
    "misspelled entry": Case(misspelled_entry, ("reen", "Did you mean 'rean'")),
    "catalog does not exist": Case(catalog_does_not_exist, ("catalog.yaml", "does not exist")),
    "output folder not writable": Case(output_not_writable, ("out", "write")),
    "checkpoint of another model": Case(checkpoint_of_another_kind, ("ckpt", "'unet-2d'")),
}


def complete_stores(folder: Path) -> list[Path]:
    """Everything under ``folder`` that looks like a finished store."""
    return [p for p in folder.rglob("*.zarr") if p.is_dir() and p.parent.name == "out"]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_error_and_leaves_no_store(name, tmp_path, capsys):
    case = CASES[name]
    args = case.make(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"forecast {args[0]}: error: ") and "\n" not in err, err
    for fragment in case.says:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert not complete_stores(tmp_path)


def test_the_catalogue_is_what_the_closing_note_counts():
    assert len(CASES) + len(GENERATE_CASES) >= 27


def test_a_bad_input_exits_2_from_the_command_line_without_a_traceback(tmp_path):
    args = all_nan_field(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "forecast.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "entirely missing" in done.stderr


# Bad inputs that need a trained checkpoint (conftest's tiny_checkpoint).


def source_on_another_grid(folder: Path, checkpoint: Path, prepared: dict) -> list[str]:
    catalog = prepared["catalog"]
    out = folder / "coarse"
    assert (
        main(
            [
                "prepare",
                "world-operational",
                "--catalog",
                str(catalog),
                "--grid",
                "30",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    return generate_args(folder, checkpoint, out / "world-operational.zarr")


def source_with_other_variables(folder: Path, checkpoint: Path, prepared: dict) -> list[str]:
    reanalysis(folder)
    forecast(folder)
    assert main(prepare(folder, "ens", REANALYSIS + FORECAST)) == 0
    source = folder / "out" / "ens.zarr"
    shutil.move(source, folder / "ens.zarr")
    return generate_args(folder, checkpoint, folder / "ens.zarr")


def source_interrupted(folder: Path, checkpoint: Path, prepared: dict) -> list[str]:
    (folder / "half.zarr.partial").mkdir()
    return generate_args(folder, checkpoint, folder / "half.zarr")


def too_many_seeds(folder: Path, checkpoint: Path, prepared: dict) -> list[str]:
    return [*generate_args(folder, checkpoint, prepared["world-operational"]), "--seeds", "40"]


def init_out_of_range(folder: Path, checkpoint: Path, prepared: dict) -> list[str]:
    return [*generate_args(folder, checkpoint, prepared["world-operational"]), "--init", "0,999"]


def lead_not_in_source(folder: Path, checkpoint: Path, prepared: dict) -> list[str]:
    return [*generate_args(folder, checkpoint, prepared["world-operational"]), "--leads", "7h"]


def batch_of_none(folder: Path, checkpoint: Path, prepared: dict) -> list[str]:
    return [*generate_args(folder, checkpoint, prepared["world-operational"]), "--batch-size", "0"]


def checkpoint_truncated(folder: Path, checkpoint: Path, prepared: dict) -> list[str]:
    shutil.copytree(checkpoint, folder / "ckpt")
    weights = folder / "ckpt" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    return generate_args(folder, folder / "ckpt", prepared["world-operational"])


GENERATE_CASES = {
    "checkpoint truncated": (checkpoint_truncated, ("ckpt", "model.safetensors cannot be read")),
    "source on another grid than the checkpoint": (
        source_on_another_grid,
        ("world-operational.zarr", "another grid"),
    ),
    "source with other variables than the checkpoint": (
        source_with_other_variables,
        ("ens.zarr", "has no variables ['u500', 'v500', 'vo500']"),
    ),
    "source store interrupted": (source_interrupted, ("half.zarr", "interrupted write")),
    "more seeds than members": (
        too_many_seeds,
        ("world-operational.zarr", "fewer than --seeds 40"),
    ),
    "init time out of range": (
        init_out_of_range,
        ("world-operational.zarr", "[999] is out of range"),
    ),
    "lead time not in the source": (
        lead_not_in_source,
        ("lead times ['7h'] are not in the source",),
    ),
    "batch size zero": (batch_of_none, ("batch size must be at least 1, got 0",)),
}


@pytest.mark.parametrize("name", list(GENERATE_CASES))
def test_bad_generate_input_is_one_clear_error(
    name, tiny_checkpoint, tiny_prepared, tiny_catalog, tmp_path, capsys
):
    make, says = GENERATE_CASES[name]
    args = make(tmp_path, tiny_checkpoint, {**tiny_prepared, "catalog": tiny_catalog})
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("forecast generate: error: ") and "\n" not in err, err
    for fragment in says:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert not (tmp_path / "out" / "ens.zarr").exists()


def test_an_unforeseen_failure_is_one_line_naming_it_a_bug(tmp_path, monkeypatch, capsys):
    """An exception no check foresaw (here injected into the reader) reaches the user as one
    line asking for a report, exit status 1; --verbose shows the traceback instead."""
    import pipelines.prepare

    def broken(*args, **kwargs):
        raise RuntimeError("a failure no check foresaw")

    monkeypatch.setattr(pipelines.prepare, "open_entry", broken)
    reanalysis(tmp_path)
    arguments = prepare(tmp_path, "rean", REANALYSIS)
    assert main(arguments) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "internal error: RuntimeError: a failure no check" in lines[0]
    assert "please report it" in lines[0] and "--verbose" in lines[0]
    with pytest.raises(RuntimeError, match="no check foresaw"):
        main(["--verbose", *arguments])
