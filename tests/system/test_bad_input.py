"""A catalogue of bad inputs, each run through the CLI.

Every case must give exit status 2, one error line that names the file (or catalog,
or checkpoint) and says what is wrong, and leave nothing at a final store path: what
may be left is a ``.partial`` store that resumes or is discarded on the next run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import (
    CORRUPTED_GRIB,
    ERA5_GRIB,
    run_cli,
    synthetic_forecast,
    synthetic_reanalysis,
)
from source_formats import grib_ensemble

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


def all_nan_forecast_member(folder: Path) -> list[str]:
    """The error names the member and lead time by value (member 11 at 12 h), not position."""

    def blank(ds: xr.Dataset) -> xr.Dataset:
        ds = ds.assign_coords(number=[10, 11, 12])
        ds["z"][1, 2, 1] = np.nan
        return ds

    reanalysis(folder)
    forecast(folder, edit=blank)
    return prepare(folder, "ens", REANALYSIS + FORECAST)


def reanalysis_with_lead_times(folder: Path) -> list[str]:
    forecast(folder)
    return prepare(folder, "ens", "ens: {role: reanalysis, format: netcdf, path: ens.nc}\n")


def variables_map_to_a_missing_name(folder: Path) -> list[str]:
    reanalysis(folder)
    return prepare(
        folder,
        "rean",
        "rean: {role: reanalysis, format: netcdf, path: rean.nc, variables: {z500: geopot}}\n",
    )


def grib_two_grids(folder: Path) -> list[str]:
    from source_formats import write_grib

    coarse = synthetic_reanalysis(TIMES[:2], n_lat=10, n_lon=18).drop_vars("geopotential")
    fine = synthetic_reanalysis(TIMES[:2], n_lat=19, n_lon=36).drop_vars("geopotential")
    write_grib(coarse, folder / "a.grib")
    write_grib(fine, folder / "b.grib")
    (folder / "two.grib").write_bytes(
        (folder / "a.grib").read_bytes() + (folder / "b.grib").read_bytes()
    )
    return prepare(folder, "two", "two: {role: reanalysis, format: grib, path: two.grib}\n")


def grib_reduced_gaussian(folder: Path) -> list[str]:
    import eccodes

    handle = eccodes.codes_grib_new_from_samples("reduced_gg_pl_32_grib2")
    eccodes.codes_set(handle, "shortName", "t")
    size = eccodes.codes_get(handle, "numberOfValues")
    eccodes.codes_set_values(handle, np.linspace(250.0, 300.0, size))
    with open(folder / "gauss.grib", "wb") as out:
        eccodes.codes_write(handle, out)
    eccodes.codes_release(handle)
    return prepare(folder, "gg", "gg: {role: reanalysis, format: grib, path: gauss.grib}\n")


def grib_time_lagged(folder: Path) -> list[str]:
    """A time-lagged ensemble: members 0-1 from the 00 UTC run, 2-3 from the 06 UTC run, in
    two files of one glob: the files combine with an init time per member, which the
    project's (init_time, lead_time, member) layout cannot hold (it crashed before)."""
    reanalysis(folder)
    grib_ensemble(folder / "lag_00.grib", TIMES[0], [0, 1], [0, 6, 12])
    grib_ensemble(folder / "lag_06.grib", TIMES[1], [2, 3], [0, 6, 12])
    entry = "lag: {role: ensemble_forecast, format: grib, path: 'lag_*.grib', truth: rean}\n"
    return prepare(folder, "lag", REANALYSIS + entry)


def unknown_units(folder: Path) -> list[str]:
    def furlongs(ds: xr.Dataset) -> xr.Dataset:
        ds["temperature"].attrs["units"] = "furlongs"
        return ds

    reanalysis(folder, furlongs)
    return prepare(folder, "rean", REANALYSIS)


def levels_not_in_the_data(folder: Path) -> list[str]:
    reanalysis(folder)
    return prepare(
        folder, "rean", "rean: {role: reanalysis, format: netcdf, path: rean.nc, levels: [300]}\n"
    )


def members_not_in_the_data(folder: Path) -> list[str]:
    reanalysis(folder)
    forecast(folder)
    return prepare(folder, "ens", REANALYSIS + FORECAST.replace("}\n", ", members: [0, 7]}\n"))


def lead_times_not_in_the_data(folder: Path) -> list[str]:
    reanalysis(folder)
    forecast(folder)
    return prepare(folder, "ens", REANALYSIS + FORECAST.replace("}\n", ", lead_times: [30h]}\n"))


def duplicate_times(folder: Path) -> list[str]:
    reanalysis(folder, lambda ds: ds.assign_coords(time=TIMES[[0, 1, 2, 3, 3, 5, 6, 7]]))
    return prepare(folder, "rean", REANALYSIS)


def uneven_longitudes(folder: Path) -> list[str]:
    lon = np.linspace(-180, 180, 18, endpoint=False)
    lon[3] += 7.0
    reanalysis(folder, lambda ds: ds.assign_coords(longitude=lon))
    return prepare(folder, "rean", REANALYSIS)


def role_misspelled(folder: Path) -> list[str]:
    reanalysis(folder)
    return prepare(folder, "rean", REANALYSIS.replace("role: reanalysis", "role: reanalyis"))


def format_unknown(folder: Path) -> list[str]:
    reanalysis(folder)
    return prepare(folder, "rean", REANALYSIS.replace("format: netcdf", "format: hdf"))


def unknown_catalog_key(folder: Path) -> list[str]:
    reanalysis(folder)
    return prepare(folder, "rean", REANALYSIS.replace("path:", "varaibles: [z500], path:"))


def truth_not_in_the_catalog(folder: Path) -> list[str]:
    forecast(folder)
    return prepare(folder, "ens", FORECAST.replace("truth: rean", "truth: era5"))


def truth_is_a_forecast(folder: Path) -> list[str]:
    forecast(folder)
    other = FORECAST.replace("ens:", "other:").replace("truth: rean, ", "")
    return prepare(folder, "ens", FORECAST.replace("truth: rean", "truth: other") + other)


def negative_chunk_size(folder: Path) -> list[str]:
    reanalysis(folder)
    return [*prepare(folder, "rean", REANALYSIS), "--chunk-mb", "-1"]


def score_missing_forecast(folder: Path) -> list[str]:
    return ["score", "--forecast", str(folder / "nope.nc"), "-q"]


def score_truth_is_a_forecast(folder: Path) -> list[str]:
    reanalysis(folder)
    forecast(folder)
    assert main(prepare(folder, "ens", REANALYSIS + FORECAST)) == 0
    shutil.move(folder / "out" / "ens.zarr", folder / "ens.zarr")
    return [
        "score", "--forecast", str(folder / "ens.zarr"), "--truth", "ens",
        "--catalog", str(folder / "catalog.yaml"), "-q",
    ]  # fmt: skip


def score_forecast_without_members(folder: Path) -> list[str]:
    xr.Dataset(
        {"z500": (("init_time", "lead_time", "lat", "lon"), np.zeros((1, 1, 2, 3)))},
        coords={"init_time": TIMES[:1], "lead_time": [0], "lat": [0.0, 1.0], "lon": [0.0, 1, 2]},
    ).to_netcdf(folder / "flat.nc")
    return ["score", "--forecast", str(folder / "flat.nc"), "-q"]


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
    "all-NaN forecast field, named by values": Case(
        all_nan_forecast_member,
        ("ens.nc", "'z500' is entirely missing", "member=11", "lead_time=0 days 12:00:00"),
    ),
    "reanalysis entry with lead times": Case(
        reanalysis_with_lead_times, ("ens.nc", "also have ['lead_time']", "ensemble_forecast")
    ),
    "variables mapped to a name not in the file": Case(
        variables_map_to_a_missing_name, ("rean.nc", "maps z500 to 'geopot'", "geopotential")
    ),
    "GRIB with two grids": Case(
        grib_two_grids, ("two.grib", "differ in GRIB key", "filter_by_keys", "one catalog entry")
    ),
    "GRIB on a reduced Gaussian grid": Case(
        grib_reduced_gaussian, ("gauss.grib", "not on a regular latitude/longitude grid")
    ),
    "GRIB time-lagged members": Case(
        grib_time_lagged,
        ("lag_*.grib", "time-lagged", "2020-01-01T00:00, 2020-01-01T06:00", "lag_window"),
    ),
    "unknown units": Case(unknown_units, ("rean.nc", "furlongs")),
    "levels not in the data": Case(levels_not_in_the_data, ("rean.nc", "not in the data")),
    "members not in the data": Case(members_not_in_the_data, ("ens.nc", "not in the data")),
    "lead times not in the data": Case(lead_times_not_in_the_data, ("ens.nc", "not in the data")),
    "duplicate reanalysis times": Case(duplicate_times, ("rean.nc", "duplicate time")),
    "uneven longitudes": Case(uneven_longitudes, ("rean.nc", "not evenly spaced")),
    "role misspelled": Case(role_misspelled, ("catalog.yaml [rean]", "'reanalyis'")),
    "format unknown": Case(format_unknown, ("catalog.yaml [rean]", "'hdf'")),
    "unknown catalog key": Case(unknown_catalog_key, ("catalog.yaml [rean]", "'varaibles'")),
    "truth not in the catalog": Case(truth_not_in_the_catalog, ("catalog.yaml", "'era5'")),
    "truth is a forecast": Case(truth_is_a_forecast, ("ens", "'other'", "not reanalysis")),
    "negative chunk size": Case(negative_chunk_size, ("chunk size must be positive",)),
    "score: forecast file missing": Case(score_missing_forecast, ("nope.nc", "no such file")),
    "score: truth is a forecast entry": Case(
        score_truth_is_a_forecast, ("catalog.yaml", "must name a reanalysis")
    ),
    "score: forecast without members": Case(
        score_forecast_without_members, ("flat.nc", "needs a 'member' dimension")
    ),
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
    assert len(CASES) + len(GENERATE_CASES) >= 50


def test_a_bad_input_exits_2_from_the_command_line_without_a_traceback(tmp_path):
    args = all_nan_field(tmp_path)
    done = run_cli(*args)
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
        ("ens.zarr", "has no variables ['tp', 'u500', 'v500', 'vo500']"),
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


def test_an_unforeseen_failure_keeps_its_traceback_and_is_named_a_bug(
    tmp_path, monkeypatch, capsys
):
    """An exception no check foresaw (here injected into the reader) is a bug: its
    traceback is printed, then one line asking for a report; exit status 1."""
    import pipelines.prepare

    def broken(*args, **kwargs):
        raise RuntimeError("a failure no check foresaw")

    monkeypatch.setattr(pipelines.prepare, "open_entry", broken)
    reanalysis(tmp_path)
    assert main(prepare(tmp_path, "rean", REANALYSIS)) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert any("in broken" in line for line in lines)
    assert "internal error: RuntimeError: a failure no check" in lines[-1]
    assert "please report it" in lines[-1]


def test_verbose_shows_the_traceback_of_a_one_line_error(tmp_path, capsys):
    """A DataError is one line; with --verbose its traceback comes first."""
    arguments = prepare(tmp_path, "rean", REANALYSIS)  # no source file written
    assert main(arguments) == 2
    quiet = capsys.readouterr().err.strip().splitlines()
    assert len(quiet) == 1 and quiet[0].startswith("forecast prepare: error: ")
    assert main(["--verbose", *arguments]) == 2
    loud = capsys.readouterr().err.strip().splitlines()
    assert loud[0] == "Traceback (most recent call last):" and loud[-1] == quiet[0]


SCHEDULED = [
    name for name, case in CASES.items() if case.make.__name__ != "checkpoint_of_another_kind"
]


@pytest.mark.slow
@pytest.mark.parametrize("name", SCHEDULED)
def test_the_catalogue_on_a_local_cluster(name, tmp_path, capfd):
    """The same bad inputs with ``--scheduler local``: still one line on stderr (no cluster
    log lines), exit status 2, nothing that looks finished."""
    case = CASES[name]
    args = [*case.make(tmp_path), "--scheduler", "local"]
    capfd.readouterr()
    assert main(args) == 2
    err = capfd.readouterr().err.strip()
    assert err.startswith(f"forecast {args[0]}: error: ") and "\n" not in err, err
    for fragment in case.says:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert not complete_stores(tmp_path)


def environment_without_scheduler() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "FORECAST_SCHEDULER"}


@pytest.mark.parametrize("command", ["prepare", "score"])
def test_a_missing_input_starts_no_cluster(command, tmp_path):
    """With the default scheduler, a missing file is one error line, not a cluster's start
    and stop logged around it."""
    if command == "prepare":
        args = path_does_not_exist(tmp_path)
    else:
        args = score_missing_forecast(tmp_path)
    done = run_cli(*args, env=environment_without_scheduler())
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no such file" in lines[0], done.stderr


def test_a_bad_catalog_entry_leaves_the_others_usable(tmp_path, capsys):
    reanalysis(tmp_path)
    catalog = REANALYSIS + "broken: {role: reanalysis, format: netcdf}\n"
    assert main(prepare(tmp_path, "rean", catalog)) == 0
    capsys.readouterr()
    assert main(prepare(tmp_path, "broken", catalog)) == 2
    err = capsys.readouterr().err
    assert "catalog.yaml [broken]: missing 'path'" in err


def test_the_truth_regridding_is_said_in_one_line(tmp_path, capsys):
    path = tmp_path / "rean.nc"
    synthetic_reanalysis(TIMES, n_lat=19, n_lon=36).to_netcdf(path)
    forecast(tmp_path)
    args = [a for a in prepare(tmp_path, "ens", REANALYSIS + FORECAST) if a != "-q"]
    assert main(args) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if ": regridding from" in line]
    assert len(said) == 1, said
    assert "rean.nc: regridding from 19 x 36 points (10 x 10 degrees)" in said[0]
    assert (
        "to the forecast's grid (ens), 10 x 18 points (20 x 20 degrees) (conservative)" in said[0]
    )


def test_a_climatology_from_two_times_has_spread_everywhere(tmp_path, capsys):
    """Two times two months apart: no day's window holds both, so every day takes the whole
    record's std, |a - b| / 2 at each point (it was 0: one value per window); a point whose
    values never change is floored at 1e-3 of the overall std, and prepare says so."""
    times = pd.DatetimeIndex(["2020-01-01", "2020-03-01"])

    def two_times(ds: xr.Dataset) -> xr.Dataset:
        ds = synthetic_reanalysis(times, n_lat=10, n_lon=18)
        ds["geopotential"][:, :, 3, 4] = 5.5e4  # lat 3, lon 4 (-100): prepared lon index 13
        return ds

    reanalysis(tmp_path, two_times)
    args = [a for a in prepare(tmp_path, "rean", REANALYSIS) if a != "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    source = xr.open_dataset(tmp_path / "rean.nc")
    source = source.assign_coords(longitude=source["longitude"] % 360)
    source = source.sortby(["latitude", "longitude"])
    store = tmp_path / "out" / "rean.zarr"
    clim = xr.open_zarr(store, group="climatology", consolidated=False)
    stats = xr.open_zarr(store, group="stats", consolidated=False)
    values = source["temperature"].sel(level=500).values
    expected = np.abs(values[0] - values[1]) / 2
    std = clim["t500"].sel(statistic="std").values
    floor_t = np.float32(1e-3) * stats["t500"].sel(statistic="std").values
    expected = np.maximum(expected, floor_t)
    np.testing.assert_allclose(std, np.broadcast_to(expected, std.shape), rtol=1e-4)
    z_std = clim["z500"].sel(statistic="std").values
    floor = np.float32(1e-3) * stats["z500"].sel(statistic="std").values
    np.testing.assert_allclose(z_std[:, 6, 13], floor, rtol=1e-6)
    assert (z_std > 0).all()
    floored = int((z_std <= floor).sum())  # the constant point, and where |a - b| / 2 is tiny
    assert floored >= 366
    assert "z500: the climatology's standard deviation is raised to 0.001" in out
    assert f"at {floored} of {z_std.size} day-points" in out


def test_plot_draws_the_first_variable_by_default(tmp_path, capsys):
    reanalysis(tmp_path)
    forecast(tmp_path)
    catalog = REANALYSIS + FORECAST.replace("[z500, t500]", "[t500]")
    assert main(prepare(tmp_path, "ens", catalog)) == 0
    out = tmp_path / "figures"
    assert main(["plot", "--ensemble", str(tmp_path / "out" / "ens.zarr"), "--out", str(out)]) == 0
    assert (out / "maps_t500.png").exists()


def test_scoring_data_with_missing_values_prints_no_warning(tmp_path):
    """Missing points (some where every member is missing) in the forecast and the truth:
    `forecast score` prints its table and nothing on stderr, warnings shown as a user sees
    them, for a prepared store and against a catalog truth."""
    from source_formats import with_holes

    reanalysis(tmp_path, lambda ds: with_holes(ds, 0.15, seed=0))
    forecast(tmp_path, edit=lambda ds: with_holes(ds, 0.15, seed=1))
    assert main(prepare(tmp_path, "ens", REANALYSIS + FORECAST)) == 0
    store = str(tmp_path / "out" / "ens.zarr")
    truth = ["--truth", "rean", "--catalog", str(tmp_path / "catalog.yaml")]
    for extra in ([], truth):
        done = run_cli("score", "--forecast", store, *extra, "--out", str(tmp_path / "s.nc"), "-q")
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
        assert "crps" in done.stdout
