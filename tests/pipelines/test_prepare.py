import dask
import numpy as np
import pytest
import xarray as xr
from conftest import ERA5_GRIB

from forecast.cli import main
from pipelines import DataError, load_catalog, open_entry
from pipelines import store as store_module
from pipelines.prepare import build, prepare_entry
from pipelines.store import is_complete, open_complete


def test_prepare_era5_sample_reopens_with_the_same_values(tmp_path):
    catalog = load_catalog()
    path = prepare_entry("era5-eda-sample", catalog, tmp_path, progress=False)
    assert is_complete(path)
    stored = open_complete(path)
    source = open_entry(catalog["era5-eda-sample"])
    xr.testing.assert_identical(
        stored[list(source.data_vars)].load().drop_attrs(), source.load().drop_attrs()
    )
    clim = open_complete(path, "climatology")
    assert clim["z500"].dims == ("statistic", "dayofyear", "lat", "lon")
    # all four analyses fall in the same window: the climatology on 1 January is their mean over members and times
    np.testing.assert_allclose(
        clim["z500"].sel(statistic="mean", dayofyear=1).values,
        source["z500"].mean(["time", "member"]).values,
        rtol=1e-5,
    )


def test_forecast_aligned_with_reanalysis_at_valid_time(sources):
    catalog = load_catalog(sources / "catalog.yaml")
    path = prepare_entry("ens", catalog, sources / "out", resolution=20.0, progress=False)
    data, truth = open_complete(path), open_complete(path, "truth")
    assert data["z500"].dims == ("init_time", "lead_time", "member", "lat", "lon")
    assert truth["z500"].dims == ("init_time", "lead_time", "lat", "lon")
    assert data.sizes["lat"] == 9 and data.sizes["lon"] == 18
    reanalysis = build(catalog["rean"], catalog, resolution=20.0)[0][""]
    for i, j in [(0, 0), (2, 3), (3, 1)]:
        valid = data["init_time"].values[i] + data["lead_time"].values[j]
        expected = reanalysis["z500"].sel(time=valid).values
        np.testing.assert_allclose(
            truth["z500"].isel(init_time=i, lead_time=j).values, expected, rtol=1e-6
        )


def test_lead_times_beyond_the_reanalysis_are_refused(sources):
    catalog = load_catalog(sources / "catalog.yaml")
    (sources / "catalog.yaml").write_text(
        (sources / "catalog.yaml")
        .read_text()
        .replace("  truth: rean", "  truth: rean\n  time: {start: 2020-01-04}")
    )
    import pandas as pd
    from conftest import synthetic_forecast

    synthetic_forecast(pd.date_range("2020-01-04", periods=2, freq="6h"), [0, 48]).to_zarr(
        sources / "ens.zarr", zarr_format=3, mode="w"
    )
    catalog = load_catalog(sources / "catalog.yaml")
    with pytest.raises(DataError, match="forecast valid times are not reanalysis times"):
        prepare_entry("ens", catalog, sources / "out", progress=False)


class Killed(BaseException):
    """Stands for the process dying mid-write."""


def raising_scheduler(*args, **kwargs):
    raise AssertionError("the graph was computed while being built")


def test_building_the_pipeline_computes_nothing(sources):
    catalog = load_catalog(sources / "catalog.yaml")
    with dask.config.set(scheduler=raising_scheduler):
        for name in ("rean", "ens"):
            groups, climate_of = build(catalog[name], catalog, resolution=20.0)
            groups["reanalysis"] = climate_of(groups[""])
            assert all(v.chunks is not None for g in groups.values() for v in g.data_vars.values())
    with (
        dask.config.set(scheduler=raising_scheduler),
        pytest.raises(AssertionError, match="computed"),
    ):
        groups["reanalysis"].compute()


def test_interrupted_prepare_resumes_without_redoing_blocks_and_matches(sources, monkeypatch):
    catalog = load_catalog(sources / "catalog.yaml")
    clean = prepare_entry("rean", catalog, sources / "clean", progress=False)
    monkeypatch.setattr(store_module, "DEFAULT_CHUNK_BYTES", 9 * 18 * 4)  # one time per block

    original = xr.Dataset.to_zarr

    def write_n_blocks_then_die(n):
        calls = {"n": 0}

        def to_zarr(self, *args, **kwargs):
            if kwargs.get("region"):
                calls["n"] += 1
                if calls["n"] > n:
                    raise Killed
            return original(self, *args, **kwargs)

        return to_zarr, calls

    broken, _ = write_n_blocks_then_die(5)
    monkeypatch.setattr(xr.Dataset, "to_zarr", broken)
    with pytest.raises(Killed):
        prepare_entry("rean", catalog, sources / "out", resolution=20.0, progress=False)
    final = sources / "out" / "rean.zarr"
    assert not final.exists() and (sources / "out" / "rean.zarr.partial").exists()
    with pytest.raises(DataError, match="interrupted write"):
        open_complete(final)
    counting, calls = write_n_blocks_then_die(10**6)
    monkeypatch.setattr(xr.Dataset, "to_zarr", counting)
    prepare_entry("rean", catalog, sources / "out", resolution=20.0, progress=False)
    assert calls["n"] == 16 - 5  # only the blocks not yet done
    monkeypatch.undo()
    resumed = open_complete(final).load()
    regridded = prepare_entry("rean", catalog, sources / "clean20", resolution=20.0, progress=False)
    xr.testing.assert_identical(resumed, open_complete(regridded).load())
    assert not (sources / "out" / "rean.zarr.partial").exists()
    assert open_complete(clean).sizes["lat"] == 19


def test_cli_prepare_corrupted_grib_leaves_nothing(tmp_path, capsys):
    import shutil

    shutil.copy(ERA5_GRIB.parent / "era5-levels-corrupted.grib", tmp_path / "bad.grib")
    (tmp_path / "c.yaml").write_text("bad: {role: reanalysis, format: grib, path: bad.grib}\n")
    out = tmp_path / "out"
    code = main(["prepare", "bad", "--catalog", str(tmp_path / "c.yaml"), "--out", str(out), "-q"])
    assert code == 2
    assert "bad.grib: cannot be read as GRIB" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_cli_prepare_unknown_entry(capsys):
    assert main(["prepare", "nope"]) == 2
    assert "no entry named 'nope'" in capsys.readouterr().err


def test_cli_help_explains_prepare(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["prepare", "--help"])
    assert exit_.value.code == 0
    assert "resumes" in capsys.readouterr().out


def test_large_blocks_are_loaded_one_lead_chunk_at_a_time(sources, monkeypatch):
    catalog = load_catalog(sources / "catalog.yaml")
    whole = prepare_entry("ens", catalog, sources / "whole", progress=False)
    loaded = []
    original = store_module._load

    def spy(block, where):
        loaded.append(dict(block.sizes))
        return original(block, where)

    monkeypatch.setattr(store_module, "_load", spy)
    # chunks of one member and one lead time: 19 x 36 x 4 bytes is under 3 kB
    parted = prepare_entry("ens", catalog, sources / "parted", progress=False, chunk_mb=0.003)
    root_blocks = [s for s in loaded if "member" in s]
    assert root_blocks and all(s["lead_time"] == 1 and s["init_time"] == 1 for s in root_blocks)
    assert len(root_blocks) == 4 * 4  # init times x lead times
    xr.testing.assert_identical(
        open_complete(parted).load().drop_attrs(), open_complete(whole).load().drop_attrs()
    )


def test_a_reanalysis_source_is_read_once_and_its_statistics_match_the_source(sources, monkeypatch):
    """The climatology and statistics come from the stored data: every source chunk is
    decoded once (blocks), not again for the climatology and again for the statistics."""
    import pipelines.prepare as prepare_module
    from pipelines.climatology import daily_climatology, normalisation_stats

    reads: list[tuple] = []

    def counted(block, block_info=None):
        reads.append(tuple(block_info[0]["chunk-location"]))
        return block

    def open_counting(entry, progress=True):
        ds = open_entry(entry).chunk({"time": 1})
        return ds.map(lambda da: da.copy(data=da.data.map_blocks(counted, dtype=da.dtype)))

    monkeypatch.setattr(prepare_module, "open_entry", open_counting)
    catalog = load_catalog(sources / "catalog.yaml")
    path = prepare_entry("rean", catalog, sources / "out", progress=False)
    source = open_entry(catalog["rean"])
    chunks = source.sizes["time"] * len(source.data_vars)
    assert len(reads) == chunks and len(set(reads)) == source.sizes["time"]
    expected = daily_climatology(source).compute()
    xr.testing.assert_allclose(
        open_complete(path, "climatology").drop_attrs(), expected.drop_attrs(), rtol=1e-6
    )
    xr.testing.assert_allclose(
        open_complete(path, "stats").drop_attrs(),
        normalisation_stats(source).compute().drop_attrs(),
        rtol=1e-6,
    )


def test_quiet_prepare_builds_the_world_without_progress_bars(tiny_catalog, tmp_path, monkeypatch):
    import pipelines.world as world

    asked = []
    real = world.open_world

    def open_world(settings, component, cache, progress=True):
        asked.append(progress)
        return real(settings, component, cache, progress)

    monkeypatch.setattr(world, "open_world", open_world)
    args = ["prepare", "world-truth", "--catalog", str(tiny_catalog), "--out", str(tmp_path)]
    assert main([*args, "-q", "--scheduler", "threads"]) == 0
    assert asked == [False]


@pytest.mark.parametrize("options", ["{half_window: -1}", "{window: 3}", "7"])
def test_bad_climatology_options_are_refused_before_anything_is_read(sources, options):
    from pipelines import ConfigError

    text = (sources / "catalog.yaml").read_text()
    text = text.replace(
        "  format: netcdf\n", f"  format: netcdf\n  options: {{climatology: {options}}}\n"
    )
    (sources / "catalog.yaml").write_text(text)
    with pytest.raises(ConfigError, match="climatology takes"):
        prepare_entry(
            "rean", load_catalog(sources / "catalog.yaml"), sources / "out", progress=False
        )
    assert not (sources / "out").exists()


def test_a_store_prepared_in_another_model_space_is_replaced_on_overwrite(
    tiny_catalog, tmp_path, monkeypatch
):
    """tp's climatology is stored in its model space: when that space changes, the store
    is made from other inputs (refused without --overwrite, replaced with it), not kept."""
    from pipelines import transforms

    catalog = load_catalog(tiny_catalog)
    first = prepare_entry("world-truth", catalog, tmp_path, progress=False)
    label = open_complete(first, "climatology")["tp"].attrs[transforms.TRANSFORM_ATTR]
    other = transforms.Power(1e-3, "m", 0.5)
    monkeypatch.setitem(transforms.TRANSFORMS, "tp", other)
    with pytest.raises(DataError, match="made from other inputs"):
        prepare_entry("world-truth", catalog, tmp_path, progress=False)
    again = prepare_entry("world-truth", catalog, tmp_path, overwrite=True, progress=False)
    relabelled = open_complete(again, "climatology")["tp"].attrs[transforms.TRANSFORM_ATTR]
    assert label != relabelled == other.description
