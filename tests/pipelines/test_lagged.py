"""Time-lagged ensembles from GRIB: members on their own start dates, grouped by valid time."""

import json
import shutil

import eccodes
import numpy as np
import pandas as pd
import pytest
from conftest import DATA, run_cli, synthetic_reanalysis

from forecast.samples import StreamedEnsemble
from pipelines import load_catalog
from pipelines.errors import ConfigError, DataError
from pipelines.prepare import prepare_entry
from pipelines.readers import open_entry
from pipelines.store import open_complete

LAGGED_GRIB = DATA / "lagged-ensemble.grib"


def grib_messages() -> dict[tuple[str, int, int, str], np.ndarray]:
    """Every field of the file by (start date, member number, step in hours, shortName),
    read with ecCodes (the oracle: no cfgrib, no xarray), north-to-south as stored."""
    fields = {}
    with LAGGED_GRIB.open("rb") as handle:
        while (message := eccodes.codes_grib_new_from_file(handle)) is not None:
            key = (
                str(eccodes.codes_get(message, "dataDate")),
                eccodes.codes_get(message, "perturbationNumber"),
                eccodes.codes_get(message, "forecastTime"),
                eccodes.codes_get(message, "shortName"),
            )
            fields[key] = eccodes.codes_get_values(message).reshape(19, 36)
            eccodes.codes_release(message)
    return fields


def write_catalog(folder, lag_window: str, extra: str = "") -> None:
    shutil.copy(LAGGED_GRIB, folder / LAGGED_GRIB.name)
    times = pd.date_range("2020-12-30", "2021-01-12", freq="6h")
    synthetic_reanalysis(times).to_zarr(folder / "rean.zarr", mode="w")
    (folder / "catalog.yaml").write_text(
        "rean:\n  role: reanalysis\n  format: zarr\n  path: rean.zarr\n"
        f"lagged:\n  role: ensemble_forecast\n  format: grib\n  path: {LAGGED_GRIB.name}\n"
        f"  truth: rean\n  lag_window: {lag_window}\n{extra}"
    )


def test_members_are_grouped_by_valid_time_freshest_first(tmp_path):
    """Six daily start dates of two members each, a 2-day window: the ensembles of the
    last four dates, six members (lags 0, 0, 1, 1, 2, 2 days), lead times 0-3 days (a
    member 2 days old reaches 5 days of steps); each value the message at start t - lag,
    step lead + lag."""
    write_catalog(tmp_path, "2D")
    ds = open_entry(load_catalog(tmp_path / "catalog.yaml")["lagged"]).load()
    assert list(pd.DatetimeIndex(ds["init_time"].values).day) == [3, 4, 5, 6]
    assert ds.sizes["member"] == 6
    assert list(pd.TimedeltaIndex(ds["lead_time"].values).days) == [0, 1, 2, 3]
    fields = grib_messages()
    for i, t in enumerate(pd.DatetimeIndex(ds["init_time"].values)):
        day = t.day - 1  # members 2 day and 2 day + 1 started on day index `day`
        expected_members = [(lag, 2 * (day - lag) + k) for lag in range(3) for k in range(2)]
        for m, (lag, number) in enumerate(expected_members):
            start = (t - pd.Timedelta(days=lag)).strftime("%Y%m%d")
            for j, lead in enumerate(range(4)):
                for name, short in (("z500", "z"), ("t500", "t")):
                    want = fields[(start, number, 24 * (lead + lag), short)][::-1]  # to south-north
                    got = ds[name].isel(init_time=i, lead_time=j, member=m).values
                    np.testing.assert_array_equal(got, want.astype(np.float32))
    assert ds.attrs["lag_window"] == "2D"


def test_a_lagged_store_is_scored_and_gives_its_freshest_members_as_seeds(tmp_path):
    write_catalog(tmp_path, "48h", "  lead_times: [0h, 48h]\n  time: {start: 2021-01-04}\n")
    catalog = load_catalog(tmp_path / "catalog.yaml")
    store = prepare_entry("lagged", catalog, tmp_path / "prepared", progress=False)
    data = open_complete(store)
    assert data.sizes == {"init_time": 3, "lead_time": 2, "member": 6, "lat": 19, "lon": 36}
    truth = open_complete(store, "truth")
    valid = data["init_time"] + data["lead_time"]
    rean = open_entry(catalog["rean"]).sel(time=valid)
    np.testing.assert_allclose(truth["z500"].values, rean["z500"].values, rtol=1e-6)
    seeds, _, _ = StreamedEnsemble(store).seeds(0, [0, 1], 2)
    members = [StreamedEnsemble(store).members(0, lead)[:2] for lead in (0, 1)]
    np.testing.assert_array_equal(seeds, np.stack(members))  # members 0, 1: lag 0
    done = run_cli("score", "--forecast", str(store), "--out", str(tmp_path / "s.nc"), "-q")
    assert done.returncode == 0, done.stderr
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["attrs"]["members"] == 6 and scores["attrs"]["init_times"] == 3
    assert len(scores["rows"]) == 4 and all(np.isfinite(row["crps"]) for row in scores["rows"])


def test_windows_of_unequal_size_keep_the_freshest_members_of_the_smallest(tmp_path):
    """Member 11 dropped: the window ending on the last date holds five members, so every
    init time keeps its five freshest (the 2-day-old member with the higher number goes)."""
    write_catalog(tmp_path, "2D", "  members: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n")
    ds = open_entry(load_catalog(tmp_path / "catalog.yaml")["lagged"]).load()
    assert ds.sizes["member"] == 5
    fields = grib_messages()
    # init 2021-01-03 (day index 2): lag 0 numbers 4, 5; lag 1: 2, 3; lag 2: 0 (1 dropped)
    oldest = fields[("20210101", 0, 48, "z")][::-1]
    np.testing.assert_array_equal(ds["z500"].isel(init_time=0, lead_time=0, member=4), oldest)


@pytest.mark.parametrize(
    "window, message",
    [
        ("12h", "the lag window 12h groups nothing: the members' start dates are 1D apart"),
        ("6D", "no start date has a whole lag window of 6D before it"),
    ],
)
def test_a_window_that_groups_nothing_is_one_error_line(tmp_path, window, message):
    write_catalog(tmp_path, window)
    with pytest.raises(DataError, match=message):
        open_entry(load_catalog(tmp_path / "catalog.yaml")["lagged"])
    done = run_cli(
        "prepare", "lagged", "--catalog", str(tmp_path / "catalog.yaml"), "--out",
        str(tmp_path / "out"), "-q",
    )  # fmt: skip
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "entry, message",
    [
        ("role: ensemble_forecast\n  lag_window: soon", "must be a positive duration"),
        ("role: ensemble_forecast\n  lag_window: -2D", "must be a positive duration"),
        ("role: reanalysis\n  lag_window: 2D", "is for an ensemble_forecast entry"),
    ],
)
def test_a_bad_lag_window_is_a_catalog_error(tmp_path, entry, message):
    (tmp_path / "catalog.yaml").write_text(f"x:\n  {entry}\n  format: grib\n  path: a.grib\n")
    catalog = load_catalog(tmp_path / "catalog.yaml")
    with pytest.raises(ConfigError, match=message):
        catalog["x"]


def test_files_of_one_start_each_are_grouped_too(tmp_path):
    """Two GRIB files, members 0-1 started at 00 UTC and 2-3 at 06 UTC (combined, the init
    time varies along the members): a 6-hour window gives the 06 UTC ensemble of four,
    lead times 0 and 6 h (the 00 UTC members reach 12 h)."""
    from source_formats import grib_ensemble

    starts = pd.to_datetime(["2020-01-01T00", "2020-01-01T06"])
    grib_ensemble(tmp_path / "lag_00.grib", starts[0], [0, 1], [0, 6, 12])
    grib_ensemble(tmp_path / "lag_06.grib", starts[1], [2, 3], [0, 6, 12])
    (tmp_path / "catalog.yaml").write_text(
        "lag: {role: ensemble_forecast, format: grib, path: 'lag_*.grib', lag_window: 6h}\n"
    )
    ds = open_entry(load_catalog(tmp_path / "catalog.yaml")["lag"]).load()
    assert list(ds["init_time"].values) == [starts[1].to_datetime64()]
    assert list(pd.TimedeltaIndex(ds["lead_time"].values).seconds // 3600) == [0, 6]
    single = {
        hour: open_entry(load_catalog_for(tmp_path, f"lag_{hour:02d}.grib")).load()
        for hour in (0, 6)
    }
    for m, (hour, number, lag_h) in enumerate([(6, 2, 0), (6, 3, 0), (0, 0, 6), (0, 1, 6)]):
        for j, lead_h in enumerate((0, 6)):
            want = single[hour]["t500"].sel(
                member=number, lead_time=pd.Timedelta(hours=lead_h + lag_h)
            )
            got = ds["t500"].isel(init_time=0, member=m, lead_time=j)
            np.testing.assert_array_equal(got.values, want.squeeze().values)


def load_catalog_for(folder, file: str):
    (folder / "one.yaml").write_text(
        f"one: {{role: ensemble_forecast, format: grib, path: '{file}'}}\n"
    )
    return load_catalog(folder / "one.yaml")["one"]
