"""The streamed climatology pass against the lazy one and brute force."""

import numpy as np
import pytest
import xarray as xr
from test_climatology import ensemble_with_gaps, seasonal

import pipelines.climatology_stream as stream
from pipelines.climatology import FLOORED_ATTR, daily_climatology, normalisation_stats
from pipelines.climatology_stream import write_statistics_groups


def read(da: xr.DataArray, where: str) -> np.ndarray:
    return da.values


def streamed(ds: xr.Dataset, path, **kwargs) -> tuple[xr.Dataset, xr.Dataset]:
    path.mkdir()
    write_statistics_groups(ds, path, read, **kwargs)
    return (
        xr.open_zarr(path, group="climatology", consolidated=False).load(),
        xr.open_zarr(path, group="stats", consolidated=False).load(),
    )


@pytest.mark.parametrize("in_memory_bytes", [stream.IN_MEMORY_SUMS_BYTES, 0])
@pytest.mark.parametrize("half_window", [0, 5])
def test_streamed_groups_equal_the_lazy_ones_for_an_ensemble_with_gaps(
    tmp_path, monkeypatch, in_memory_bytes, half_window
):
    """Members pooled, 10% missing, two years of 6-hourly data read in blocks of 7 times
    (a day split across blocks), the day sums on disk or in memory."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 7 * 3 * 3 * 4 * 8)
    ds = ensemble_with_gaps()
    clim, stats = streamed(
        ds, tmp_path / "s.zarr", half_window=half_window, in_memory_bytes=in_memory_bytes
    )
    expected = daily_climatology(ds, half_window=half_window).compute()
    xr.testing.assert_allclose(clim.drop_attrs(), expected.drop_attrs(), rtol=1e-6)
    xr.testing.assert_allclose(
        stats.drop_attrs(), normalisation_stats(ds).compute().drop_attrs(), rtol=1e-6
    )
    assert clim["z500"].encoding["chunks"] == (2, 1, 3, 4)  # a day is one read
    assert clim.attrs["half_window_days"] == half_window
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]  # no scratch left


def test_short_record_falls_back_and_flat_points_are_floored_and_counted(tmp_path):
    ds, _ = seasonal(years=1)
    ds = ds.isel(time=slice(0, 20)).load()
    ds["t850"][:, 0, 0] = 250.0  # never changes: its std is raised to the floor
    clim, stats = streamed(ds, tmp_path / "s.zarr", half_window=3)
    expected = daily_climatology(ds, half_window=3).compute()
    xr.testing.assert_allclose(clim.drop_attrs(), expected.drop_attrs(), rtol=1e-6)
    floor = 1e-3 * float(stats["t850"].sel(statistic="std"))
    std = clim["t850"].sel(statistic="std")
    np.testing.assert_allclose(std[:, 0, 0], floor, rtol=1e-6)
    assert clim["t850"].attrs[FLOORED_ATTR] == int((std <= np.float32(floor)).sum()) == 366


def test_a_zarr_v2_source_s_storage_encoding_is_not_carried_over(tmp_path):
    """A forecast's truth read from a zarr v2 store: its coordinates' Blosc compressor
    cannot go into the v3 store (it crashed the climatology pass once)."""
    ds, _ = seasonal(years=1)
    ds.to_zarr(tmp_path / "v2.zarr", zarr_format=2, mode="w")
    source = xr.open_zarr(tmp_path / "v2.zarr")
    assert "compressor" in source["lat"].encoding or "compressors" in source["lat"].encoding
    clim, _ = streamed(source, tmp_path / "s.zarr", half_window=3)
    expected = daily_climatology(ds, half_window=3).compute()
    xr.testing.assert_allclose(clim.drop_attrs(), expected.drop_attrs(), rtol=1e-6)
