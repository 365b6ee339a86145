"""The zarr store protocol on its own: what is written is what is read, nothing looks
complete before it is, an interrupted write resumes to the same store, and a store made
from other inputs is never silently reused."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipelines import DataError
from pipelines.store import (
    choose_chunks,
    fingerprint,
    is_complete,
    open_complete,
    project_encoding,
    write_store,
)


def dataset(n_time: int = 6) -> xr.Dataset:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n_time, 3, 4)).astype(np.float32)
    values[1, 0, 0] = np.nan  # a missing point travels as NaN
    ds = xr.Dataset(
        {"z500": (("time", "lat", "lon"), values)},
        coords={
            "time": pd.date_range("2020-01-01", periods=n_time, freq="6h"),
            "lat": [-30.0, 0.0, 30.0],
            "lon": [0.0, 90.0, 180.0, 270.0],
        },
        attrs={"role": "reanalysis"},
    )
    return ds.chunk({"time": 2})


def write(path, groups, key="a", **options):
    return write_store(path, groups, outer="time", key=key, progress=False, **options)


def test_groups_round_trip_and_the_store_is_complete(tmp_path):
    ds = dataset()
    stats = xr.Dataset({"z500": ("statistic", np.array([0.5, 2.0], np.float32))})
    path = write(tmp_path / "s.zarr", {"": ds, "stats": stats}, outer_chunk=2)
    assert is_complete(path) and not (tmp_path / "s.zarr.partial").exists()
    back = open_complete(path).load()
    xr.testing.assert_identical(back["z500"], ds["z500"].load())
    xr.testing.assert_identical(open_complete(path, "stats").load()["z500"], stats["z500"])


def test_an_interrupted_write_is_not_complete_and_resumes_to_the_same_store(tmp_path):
    ds = dataset()
    calls = {"n": 0}

    def dies_at_the_second_block(block):
        calls["n"] += 1
        if calls["n"] == 2:
            raise DataError("stop here")

    with pytest.raises(DataError, match="stop here"):
        write(tmp_path / "s.zarr", {"": ds}, outer_chunk=2, check=dies_at_the_second_block)
    assert not (tmp_path / "s.zarr").exists() and (tmp_path / "s.zarr.partial").exists()
    with pytest.raises(DataError):
        open_complete(tmp_path / "s.zarr.partial")
    seen = []
    write(
        tmp_path / "s.zarr", {"": ds}, outer_chunk=2, check=lambda b: seen.append(b.sizes["time"])
    )
    assert sum(seen) == 4  # the first block was kept: only the two left were written
    xr.testing.assert_identical(
        open_complete(tmp_path / "s.zarr").load()["z500"], ds["z500"].load()
    )


def test_other_inputs_need_overwrite_and_the_same_inputs_keep_the_store(tmp_path):
    path = write(tmp_path / "s.zarr", {"": dataset()})
    with pytest.raises(DataError, match="overwrite"):
        write(path, {"": dataset() + 1}, key="b")
    write(path, {"": dataset() + 1}, key="a")  # same key: kept as it is
    np.testing.assert_array_equal(open_complete(path)["z500"].values, dataset()["z500"].values)
    write(path, {"": dataset() + 1}, key="b", overwrite=True)
    np.testing.assert_array_equal(open_complete(path)["z500"].values, dataset()["z500"].values + 1)


def test_the_stored_encoding_is_the_projects_whatever_the_source():
    ds = dataset().load()
    ds["z500"].encoding = {"scale_factor": 0.1, "dtype": "int16", "chunks": (1, 3, 4)}
    assert project_encoding(ds)["z500"].encoding == {}


def test_chunks_hold_whole_fields_and_grow_along_the_outer_dim_up_to_the_target():
    sizes = {"time": 64, "member": 5, "lat": 3, "lon": 4}
    field = 12 * 4  # bytes of one float32 field
    assert choose_chunks(sizes, 4, "time", 20 * field) == {
        "time": 4,
        "member": 5,
        "lat": 3,
        "lon": 4,
    }
    assert choose_chunks(sizes, 4, "time", 20 * field, outer_max=2)["time"] == 2
    assert choose_chunks(sizes, 4, "time", 1)["member"] == 1  # never below one field


def test_fingerprints_differ_with_any_input():
    assert fingerprint("a", 1, [2.0]) == fingerprint("a", 1, [2.0])
    assert len({fingerprint("a", 1), fingerprint("a", 2), fingerprint("b", 1)}) == 3
