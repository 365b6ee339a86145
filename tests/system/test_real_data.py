"""Real data on its native grid, end to end: the ERA5 ensemble of data assimilations
sample (10 members, z and t at 500 and 850 hPa, 61 x 120 with both poles, GRIB) is
prepared, SEEDS-GEE trains a few steps on its members, generates from 2 seeds, and the
result is scored against a member held out of training."""

from __future__ import annotations

import numpy as np
import xarray as xr
from conftest import ERA5_GRIB

from forecast.cli import main
from pipelines.store import open_complete


def test_era5_members_go_through_the_whole_chain_on_their_native_grid(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    # member 0 plays the verifying analysis; members 1-9 the ensemble (an analysis
    # ensemble: one lead time, 0 h)
    catalog.write_text(
        f"era5-member0:\n  role: reanalysis\n  format: grib\n  path: {ERA5_GRIB}\n"
        "  members: [0]\n"
        f"era5-eda:\n  role: ensemble_forecast\n  format: grib\n  path: {ERA5_GRIB}\n"
        "  members: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n  truth: era5-member0\n"
    )
    prepared, checkpoint = tmp_path / "prepared", tmp_path / "seeds-gee"
    ensemble, scores = tmp_path / "generated.zarr", tmp_path / "scores.nc"
    store = str(prepared / "era5-eda.zarr")
    commands = [
        ["prepare", "era5-eda", "--catalog", str(catalog), "--out", str(prepared)],
        ["train", "--model", "seeds-gee", "--data", store, "--out", str(checkpoint), "--budget",
         "tiny", "--steps", "3"],
        ["generate", "--checkpoint", str(checkpoint), "--from", store, "--members", "4",
         "--seeds", "2", "--steps", "4", "--out", str(ensemble)],
        ["score", "--forecast", str(ensemble), "--out", str(scores)],
    ]  # fmt: skip
    for command in commands:
        assert main([*command, "-q"]) == 0, command

    source = open_complete(prepared / "era5-eda.zarr")
    generated = open_complete(ensemble)
    assert source.sizes["lat"] == 61 and source.sizes["lon"] == 120
    assert float(source["lat"].min()) == -90 and float(source["lat"].max()) == 90
    assert dict(generated.sizes) == {
        "init_time": 4,
        "lead_time": 1,
        "member": 4,
        "lat": 61,
        "lon": 120,
    }
    assert sorted(generated.data_vars) == ["t500", "t850", "z500", "z850"]
    assert np.isfinite(generated["z500"].values).all()
    # the truth scored against is member 0, which training never saw
    raw = xr.open_dataset(ERA5_GRIB, engine="cfgrib", backend_kwargs={"indexpath": ""})
    member0 = raw["z"].sel(number=0, isobaricInhPa=500).sortby("latitude").values
    truth = open_complete(ensemble, "truth")["z500"].isel(lead_time=0).values
    np.testing.assert_allclose(truth, member0, rtol=1e-6)
    table = xr.open_dataset(scores)
    assert np.isfinite(table["crps"].values).all() and (table["crps"] > 0).all()
