"""Sources on an S3-compatible server and a web server on 127.0.0.1: preparing from them
gives the store preparing the local copy gives, scoring against a remote reanalysis gives
the same scores, and a missing object or a dropped connection is one error line."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import synthetic_forecast, synthetic_reanalysis
from object_servers import (
    S3_ENVIRONMENT,
    dropping_server,
    environment,
    free_port,
    http_server,
    s3_server,
    upload,
)
from source_formats import write_source

from forecast.cli import main
from pipelines.store import open_complete

GROUPS = ("", "climatology", "stats")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A WeatherBench2-layout zarr (consolidated zarr v2; geopotential and temperature on
    time, level, latitude (descending, poles included), longitude), a GRIB and a netCDF
    copy, on the S3 server (bucket ``era5``) and the zarr on a web server; a catalog naming
    each and the local copies, and a local ensemble verified against the local zarr."""
    folder = tmp_path_factory.mktemp("remote")
    times = pd.date_range("2020-01-01", periods=24, freq="6h")
    reanalysis = synthetic_reanalysis(times)
    files = {}
    for variant in ("zarr2-blosc-consolidated", "grib2", "netcdf-zlib"):
        (folder / variant).mkdir()
        files[variant], _ = write_source(reanalysis, folder / variant, variant)
    synthetic_forecast(times[:4], [0, 24]).to_zarr(folder / "ens.zarr", zarr_format=3)
    cache = {"FORECAST_REMOTE_CACHE": str(folder / "cache")}
    with (
        environment({**S3_ENVIRONMENT, **cache}),
        s3_server() as s3_api,
        http_server(folder) as web,
    ):
        endpoint = s3_api.url
        for variant, path in files.items():
            upload(endpoint, path, f"era5/{variant}/{path.name}")
        s3 = f"storage_options: {{endpoint_url: '{endpoint}'}}"
        zarr = files["zarr2-blosc-consolidated"]
        entries = {
            "local-zarr": f"format: zarr\n  path: {zarr}",
            "s3-zarr": f"format: zarr\n  path: s3://era5/zarr2-blosc-consolidated/{zarr.name}\n  {s3}",
            "http-zarr": f"format: zarr\n  path: {web.url}/zarr2-blosc-consolidated/{zarr.name}",
            "local-grib": f"format: grib\n  path: {files['grib2']}",
            "s3-grib": f"format: grib\n  path: s3://era5/grib2/{files['grib2'].name}\n  {s3}",
            "local-netcdf": f"format: netcdf\n  path: {files['netcdf-zlib']}",
            "s3-netcdf": f"format: netcdf\n  path: s3://era5/netcdf-zlib/{files['netcdf-zlib'].name}\n  {s3}",
            "s3-missing": f"format: zarr\n  path: s3://era5/missing.zarr\n  {s3}",
            "s3-no-bucket": f"format: netcdf\n  path: s3://nobucket/x.nc\n  {s3}",
        }
        text = "".join(f"{name}:\n  role: reanalysis\n  {spec}\n" for name, spec in entries.items())
        text += (
            "ens:\n  role: ensemble_forecast\n  format: zarr\n"
            f"  path: {folder / 'ens.zarr'}\n  truth: local-zarr\n  variables: [z500, t500]\n"
        )
        (folder / "catalog.yaml").write_text(text)
        yield {"folder": folder, "catalog": folder / "catalog.yaml", "web": web}


def prepare(servers, entry: str, out: str) -> int:
    catalog = str(servers["catalog"])
    return main(
        ["prepare", entry, "--catalog", catalog, "--out", str(servers["folder"] / out), "-q"]
    )


def assert_same_store(a, b) -> None:
    for group in GROUPS:
        xr.testing.assert_identical(
            open_complete(a, group or None).load().drop_attrs(),
            open_complete(b, group or None).load().drop_attrs(),
        )


@pytest.mark.parametrize("kind", ["zarr", "grib", "netcdf"])
def test_preparing_from_the_s3_server_gives_the_local_copy_s_store(servers, kind):
    assert prepare(servers, f"local-{kind}", "local") == 0
    assert prepare(servers, f"s3-{kind}", "s3") == 0
    folder = servers["folder"]
    assert_same_store(folder / "local" / f"local-{kind}.zarr", folder / "s3" / f"s3-{kind}.zarr")


def test_preparing_from_the_web_server_gives_the_local_copy_s_store(servers):
    assert prepare(servers, "local-zarr", "local") == 0
    assert prepare(servers, "http-zarr", "http") == 0
    folder = servers["folder"]
    assert_same_store(folder / "local" / "local-zarr.zarr", folder / "http" / "http-zarr.zarr")


def test_scores_against_a_remote_reanalysis_are_the_local_ones(servers):
    folder, catalog = servers["folder"], str(servers["catalog"])
    assert prepare(servers, "ens", "prepared") == 0
    forecast = str(folder / "prepared" / "ens.zarr")
    tables = {}
    for truth in ("local-zarr", "s3-zarr", "http-zarr"):
        out = folder / f"scores-{truth}.nc"
        args = ["score", "--forecast", forecast, "--truth", truth, "--catalog", catalog]
        assert main([*args, "--out", str(out), "-q"]) == 0
        tables[truth] = xr.open_dataset(out).load().drop_attrs()
    xr.testing.assert_identical(tables["local-zarr"], tables["s3-zarr"])
    xr.testing.assert_identical(tables["local-zarr"], tables["http-zarr"])


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("s3-missing", "s3://era5/missing.zarr: cannot be read as zarr"),
        ("s3-no-bucket", "s3://nobucket/x.nc: no such object"),
    ],
)
def test_a_missing_object_is_one_error_line_naming_the_url(servers, entry, words, capsys):
    assert prepare(servers, entry, "bad") == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and words in error, error


def test_a_dropped_or_refused_connection_is_one_error_line_naming_the_url(servers, capsys):
    folder = servers["folder"]
    with dropping_server() as url:
        refused = f"http://127.0.0.1:{free_port()}"
        for base in (url, refused):
            catalog = folder / "unreachable.yaml"
            catalog.write_text(
                f"far:\n  role: reanalysis\n  format: zarr\n  path: {base}/era5.zarr\n"
            )
            args = ["prepare", "far", "--catalog", str(catalog), "--out", str(folder / "x")]
            assert main([*args, "-q"]) == 2
            error = capsys.readouterr().err.strip()
            assert len(error.splitlines()) == 1 and f"{base}/era5.zarr:" in error, error


def test_only_the_chunks_of_the_selection_move(servers, tmp_path):
    """A month of one variable (here: one day of one field) from the web server fetches
    its chunks and the metadata, not the store."""
    web, folder = servers["web"], servers["folder"]
    zarr = "zarr2-blosc-consolidated/source.zarr"
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        f"day:\n  role: reanalysis\n  format: zarr\n  path: {web.url}/{zarr}\n"
        "  variables: {z500: geopotential}\n  levels: [500]\n"
        "  time: {start: 2020-01-02, end: 2020-01-02T18:00}\n"
    )
    before = web.sent
    args = ["prepare", "day", "--catalog", str(catalog), "--out", str(tmp_path), "-q"]
    assert main(args) == 0
    fetched = web.sent - before
    whole = sum(f.stat().st_size for f in (folder / zarr).rglob("*") if f.is_file())
    geopotential = sum(f.stat().st_size for f in (folder / zarr / "geopotential").rglob("*"))
    assert 0 < fetched < whole - 0.9 * (whole - geopotential), (fetched, whole)


def test_outputs_on_object_stores_are_refused_in_one_line(capsys):
    for args in (
        ["prepare", "world", "--out", "s3://bucket/prepared"],
        ["generate", "--out", "gs://bucket/ensemble.zarr"],
        ["score", "--out", "s3://bucket/scores.nc"],
    ):
        assert main(args) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and "write to a local path" in error, error
        assert args[-1] in error


def test_credentials_in_the_catalog_are_refused(tmp_path, capsys):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "era5:\n  role: reanalysis\n  format: zarr\n  path: s3://b/era5.zarr\n"
        "  storage_options: {key: AKIA, secret: abc, endpoint_url: 'http://x'}\n"
    )
    assert main(["prepare", "era5", "--catalog", str(catalog), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "['key', 'secret']" in error and "AWS_ACCESS_KEY_ID" in error


def test_without_the_cloud_extra_a_remote_path_names_it(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "s3fs" else real(name, *a)
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("era5:\n  role: reanalysis\n  format: zarr\n  path: s3://b/era5.zarr\n")
    assert main(["prepare", "era5", "--catalog", str(catalog), "--out", str(tmp_path)]) == 2
    assert "needs s3fs: pip install 'forecast[cloud]'" in capsys.readouterr().err


def test_the_local_and_remote_reanalyses_hold_the_same_values(servers):
    """The oracle under the store comparisons: the S3 copy opened by xarray directly."""
    from pipelines import load_catalog, open_entry

    catalog = load_catalog(servers["catalog"])
    local, s3 = open_entry(catalog["local-zarr"]), open_entry(catalog["s3-zarr"])
    np.testing.assert_array_equal(local["z500"].values, s3["z500"].values)
