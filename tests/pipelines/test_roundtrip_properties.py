"""Property: any small dataset a user could hand us round-trips through prepare unchanged.

Random grids (either latitude order, either longitude convention), times, variables,
levels, units, missing points, source formats with their encodings (netCDF plain,
zlib-compressed and int16-packed; GRIB2; zarr v2 and v3 with Blosc, Zstd or no
compressor, a fill value, consolidated or not) and chunk sizes; the prepared store must
hold exactly the values the source stores, field by field, at the right coordinates,
carry none of the source's storage encoding, and reopen identical to what the reader gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from source_formats import VARIANTS, expected_field, write_source

from pipelines import load_catalog, open_entry
from pipelines.prepare import prepare_entry
from pipelines.store import open_complete

UNITS = {"geopotential": ["m**2 s**-2", "m2 s-2"], "temperature": ["K", "degC"]}
SHORT = {"geopotential": "z", "temperature": "t"}


@st.composite
def small_datasets(draw) -> tuple[xr.Dataset, dict]:
    n_time = draw(st.integers(1, 5))
    n_lat = draw(st.integers(2, 6))
    n_lon = draw(st.integers(3, 8))
    step = 180.0 / n_lat
    lat = -90 + step * (np.arange(n_lat) + 0.5)
    if draw(st.booleans()):
        lat = lat[::-1]
    lon = np.arange(n_lon) * 360.0 / n_lon
    if draw(st.booleans()):
        lon = np.where(lon >= 180, lon - 360, lon)  # -180..180, in the file's (unsorted) order
    levels = draw(st.sampled_from([[500], [850], [500, 850], [850, 500]]))
    names = draw(st.lists(st.sampled_from(sorted(UNITS)), min_size=1, max_size=2, unique=True))
    start = pd.Timestamp("1990-01-01") + pd.Timedelta(hours=6 * draw(st.integers(0, 40000)))
    times = pd.date_range(start, periods=n_time, freq="6h")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (n_time, len(levels), n_lat, n_lon)
    variables = {}
    units = {}
    for name in names:
        values = rng.normal(size=shape).astype("f4") * 100 + 250
        holes = rng.random(shape) < draw(st.sampled_from([0.0, 0.2]))
        holes[..., 0, 0] = False  # missing points, never a whole field
        values[holes] = np.nan
        units[name] = draw(st.sampled_from(UNITS[name]))
        variables[name] = (
            ("time", "level", "latitude", "longitude"),
            values,
            {"units": units[name]},
        )
    ds = xr.Dataset(
        variables, coords={"time": times, "level": levels, "latitude": lat, "longitude": lon}
    )
    options = {
        "variant": draw(st.sampled_from(sorted(VARIANTS))),
        "chunk_mb": draw(st.sampled_from([None, 0.0005, 0.002])),
    }
    return ds, options


def assert_project_encoding(stored: xr.DataArray) -> None:
    """What a prepared variable's storage is: Zstd-compressed floats with a NaN fill, never the
    source's compressor, packing or fill value."""
    encoding = stored.encoding
    assert stored.dtype.kind == "f"
    assert [type(c).__name__ for c in encoding["compressors"]] == ["ZstdCodec"]
    assert np.isnan(encoding["fill_value"])
    assert "scale_factor" not in encoding and "add_offset" not in encoding


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=small_datasets())
def test_random_small_datasets_round_trip_through_prepare(case, tmp_path_factory):
    source, options = case
    folder: Path = tmp_path_factory.mktemp("roundtrip")
    variant = VARIANTS[options["variant"]]
    path, source = write_source(source, folder, variant.name)
    (folder / "catalog.yaml").write_text(
        f"src: {{role: reanalysis, format: {variant.format}, path: {path.name}}}\n"
    )
    catalog = load_catalog(folder / "catalog.yaml")
    store = prepare_entry(
        "src", catalog, folder / "out", progress=False, chunk_mb=options["chunk_mb"]
    )
    prepared = open_complete(store).load()
    expected_names = {
        f"{SHORT[n]}{level}" for n in source.data_vars for level in source["level"].values
    }
    assert set(prepared.data_vars) == expected_names
    for name in source.data_vars:
        for level in source["level"].values:
            expected = expected_field(source, name, int(level))
            got = prepared[f"{SHORT[name]}{int(level)}"]
            # GRIB2 stores grid points in micro-degrees (360/7 is not a whole number of them)
            degrees = 1e-5 if variant.format == "grib" else 0.0
            np.testing.assert_allclose(got["lat"].values, expected["lat"].values, atol=degrees)
            np.testing.assert_allclose(got["lon"].values, expected["lon"].values, atol=degrees)
            np.testing.assert_array_equal(got["time"].values, expected["time"].values)
            np.testing.assert_allclose(got.values, expected.values, rtol=1e-6, equal_nan=True)
            assert_project_encoding(open_complete(store)[f"{SHORT[name]}{int(level)}"])
    reader = open_entry(catalog["src"]).load()
    xr.testing.assert_identical(
        open_complete(store)[list(reader.data_vars)].load().drop_attrs(), reader.drop_attrs()
    )
