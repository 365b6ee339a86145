import numpy as np
import pytest
import xarray as xr
from conftest import CORRUPTED_GRIB, ERA5_GRIB, ROOT, synthetic_reanalysis

from pipelines import DataError, open_entry
from pipelines.catalog import Entry
from pipelines.lexicon import STANDARD_GRAVITY


def grib_entry(path=ERA5_GRIB, **kwargs) -> Entry:
    return Entry(name="sample", role="reanalysis", format="grib", path=str(path), **kwargs)


@pytest.fixture(scope="module")
def era5() -> xr.Dataset:
    return open_entry(grib_entry())


@pytest.fixture(scope="module")
def raw_cfgrib() -> xr.Dataset:
    return xr.open_dataset(ERA5_GRIB, engine="cfgrib", backend_kwargs={"indexpath": ""}).load()


def test_era5_sample_dimensions_levels_times_grid(era5):
    assert dict(era5.sizes) == {"time": 4, "member": 10, "lat": 61, "lon": 120}
    assert sorted(era5.data_vars) == ["t500", "t850", "z500", "z850"]
    assert np.all(np.diff(era5["lat"].values) > 0) and era5["lat"].values[[0, -1]].tolist() == [
        -90,
        90,
    ]
    assert era5["lon"].values[0] == 0 and era5["lon"].values[-1] == 357
    assert [str(t)[:13] for t in era5["time"].values] == [
        "2017-01-01T00",
        "2017-01-01T12",
        "2017-01-02T00",
        "2017-01-02T12",
    ]
    assert era5["member"].values.tolist() == list(range(10))
    assert era5["z500"].attrs["units"] == "m2 s-2" and era5["t850"].attrs["units"] == "K"
    assert era5["z500"].chunks is not None  # lazy, dask-backed


@pytest.mark.parametrize(
    ("member", "time", "lat", "lon"), [(0, 0, 90.0, 0.0), (3, 2, -45.0, 120.0), (9, 3, 0.0, 357.0)]
)
def test_era5_values_match_cfgrib(era5, raw_cfgrib, member, time, lat, lon):
    for var, level in (("z", 500), ("t", 850)):
        expected = (
            raw_cfgrib[var]
            .isel(number=member, time=time)
            .sel(isobaricInhPa=level, latitude=lat, longitude=lon)
        )
        got = era5[f"{var}{level}"].isel(member=member, time=time).sel(lat=lat, lon=lon)
        assert float(got) == float(expected)


def test_corrupted_grib_is_a_clear_error():
    with pytest.raises(DataError, match="era5-levels-corrupted.grib: cannot be read as GRIB"):
        open_entry(grib_entry(CORRUPTED_GRIB))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        open_entry(grib_entry(tmp_path / "nope.grib"))


def test_selection_of_variables_levels_and_members():
    ds = open_entry(grib_entry(variables={"z500": None}, levels=(500.0,), members=(1, 2)))
    assert list(ds.data_vars) == ["z500"] and ds.sizes["member"] == 2


def test_missing_variable_names_what_exists():
    with pytest.raises(DataError, match=r"variables \['q700'\] not found; the file provides"):
        open_entry(grib_entry(variables={"q700": None}))


def netcdf_entry(path, **kwargs) -> Entry:
    return Entry(name="nc", role="reanalysis", format="netcdf", path=str(path), **kwargs)


def test_netcdf_conventions_renamed_sorted_and_converted(tmp_path):
    times = xr.date_range("2020-01-01", periods=3, freq="D")
    source = synthetic_reanalysis(times)
    source["msl"] = source["temperature"].isel(level=0, drop=True) * 0 + 1013.0
    source["msl"].attrs["units"] = "hPa"
    source.to_netcdf(tmp_path / "r.nc")
    ds = open_entry(netcdf_entry(tmp_path / "r.nc"))
    assert sorted(ds.data_vars) == ["msl", "t500", "t850", "z500", "z850"]
    assert np.all(np.diff(ds["lon"].values) > 0) and ds["lon"].min() >= 0 and ds["lon"].max() < 360
    assert np.all(np.diff(ds["lat"].values) > 0)
    np.testing.assert_allclose(ds["msl"].values, 101300.0)
    # the same point before and after: lon -170 is 190, and lat is flipped
    expected = source["geopotential"].sel(
        level=500, latitude=40.0, longitude=-170.0, method="nearest"
    )
    got = ds["z500"].sel(lat=40.0, lon=190.0, method="nearest")
    np.testing.assert_array_equal(got.values, expected.values)


def test_geopotential_given_as_height_is_refused(tmp_path):
    times = xr.date_range("2020-01-01", periods=2, freq="D")
    source = synthetic_reanalysis(times)
    source["geopotential"] = source["geopotential"] / STANDARD_GRAVITY
    source["geopotential"].attrs["units"] = "m"
    source.to_netcdf(tmp_path / "r.nc")
    with pytest.raises(DataError, match="geopotential has units 'm'.*map it to 'gh'"):
        open_entry(netcdf_entry(tmp_path / "r.nc"))


def test_unknown_units_are_refused(tmp_path):
    times = xr.date_range("2020-01-01", periods=2, freq="D")
    source = synthetic_reanalysis(times)
    source["temperature"].attrs["units"] = "furlongs"
    source.to_netcdf(tmp_path / "r.nc")
    with pytest.raises(DataError, match="'furlongs'"):
        open_entry(netcdf_entry(tmp_path / "r.nc"))


def test_wrong_dimensions_are_refused(tmp_path):
    times = xr.date_range("2020-01-01", periods=2, freq="D")
    synthetic_reanalysis(times).isel(time=0, drop=True).to_netcdf(tmp_path / "r.nc")
    with pytest.raises(DataError, match="needs a 'time' dimension"):
        open_entry(netcdf_entry(tmp_path / "r.nc"))


def test_duplicate_times_are_refused(tmp_path):
    times = xr.date_range("2020-01-01", periods=2, freq="D")
    source = synthetic_reanalysis(times)
    xr.concat([source, source], "time").to_netcdf(tmp_path / "r.nc")
    with pytest.raises(DataError, match="duplicate time"):
        open_entry(netcdf_entry(tmp_path / "r.nc"))


def test_not_a_netcdf_file(tmp_path):
    (tmp_path / "r.nc").write_text("hello")
    with pytest.raises(DataError, match="r.nc: is not a netCDF file"):
        open_entry(netcdf_entry(tmp_path / "r.nc"))


def test_forecast_zarr_gets_init_lead_member(tmp_path):
    from conftest import synthetic_forecast

    times = xr.date_range("2020-01-01", periods=2, freq="D")
    synthetic_forecast(times, [0, 24]).to_zarr(tmp_path / "f.zarr", zarr_format=3)
    entry = Entry(name="f", role="ensemble_forecast", format="zarr", path=str(tmp_path / "f.zarr"))
    ds = open_entry(entry)
    assert ds["z500"].dims == ("init_time", "lead_time", "member", "lat", "lon")
    assert ds["t500"].attrs["units"] == "K"
    assert float(ds["t500"].mean()) == pytest.approx(260.15, abs=0.5)


def test_reading_grib_then_drawing_maps_exits_cleanly():
    """ecCodes and pyproj wheels clash at exit unless pyproj loads first (pipelines does it)."""
    import subprocess
    import sys

    script = (
        "import numpy as np, xarray as xr\n"
        "from pipelines import load_catalog, open_entry\n"
        "open_entry(load_catalog()['era5-eda-sample']).load()\n"
        "import cartopy.crs as ccrs\n"
        "ccrs.Robinson().transform_points(ccrs.PlateCarree(), np.zeros(2), np.ones(2))\n"
        "print('done')\n"
    )
    root = ROOT
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and "done" in result.stdout, result.stderr[-2000:]


def test_a_contiguous_netcdf_is_chunked_in_time_so_a_block_reads_only_its_times(
    tmp_path, monkeypatch
):
    import pipelines.readers as readers

    times = np.array("2020-01-01", dtype="datetime64[ns]") + np.arange(40) * np.timedelta64(6, "h")
    synthetic_reanalysis(times).to_netcdf(tmp_path / "r.nc")
    entry = Entry(name="r", role="reanalysis", format="netcdf", path=str(tmp_path / "r.nc"))
    whole = open_entry(entry)
    per_time = max(v.nbytes // 40 for v in xr.open_dataset(tmp_path / "r.nc").data_vars.values())
    original = readers._chunks_in_time
    monkeypatch.setattr(
        readers, "_chunks_in_time", lambda ds: original(ds, target_bytes=5 * per_time)
    )
    chunked = open_entry(entry)
    assert chunked["z500"].chunks[0] == (5,) * 8
    assert len(whole["z500"].chunks[0]) == 1  # small: one chunk is right
    xr.testing.assert_identical(chunked.load(), whole.load())
