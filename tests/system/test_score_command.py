import json

import numpy as np
import properscoring
import pytest
import xarray as xr

from forecast.cli import main
from forecast.commands.score import write_scores
from forecast.scoring import score_ensemble
from pipelines import load_catalog
from pipelines.grid import cell_area_weights
from pipelines.prepare import prepare_entry
from pipelines.store import open_complete


@pytest.fixture
def prepared(sources):
    catalog = load_catalog(sources / "catalog.yaml")
    return prepare_entry("ens", catalog, sources / "prepared", resolution=20.0, progress=False)


def expected_crps(store, variable, lead_index):
    """Area-weighted mean over init times and space of properscoring's CRPS (standard estimator)."""
    data = open_complete(store)[variable].isel(lead_time=lead_index).load()
    truth = open_complete(store, "truth")[variable].isel(lead_time=lead_index).load()
    pointwise = properscoring.crps_ensemble(truth.values, np.moveaxis(data.values, 1, -1))
    weights = cell_area_weights(truth["lat"]).values[None, :, None] * np.ones(pointwise.shape)
    return np.average(pointwise, weights=weights)


def test_score_a_prepared_store(prepared, tmp_path, capsys):
    out = tmp_path / "scores.nc"
    assert main(["score", "--forecast", str(prepared), "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "crps" in printed and "z500" in printed and "24h" in printed
    scores = xr.open_dataset(out)
    assert set(scores["variable"].values) == {"z500", "t500"}
    assert scores.sizes["lead_time"] == 4 and scores.sizes["rank"] == 4
    assert list(scores["event"].values) == [
        "above_2sigma",
        "below_2sigma",
        "above_3sigma",
        "below_3sigma",
    ]
    for lead in (0, 3):
        np.testing.assert_allclose(
            float(scores["crps_nrg"].sel(variable="z500").isel(lead_time=lead)),
            expected_crps(prepared, "z500", lead),
            rtol=1e-5,
        )
    counts = (
        scores["event_reliability_count"]
        .sel(variable="z500", event="above_2sigma")
        .isel(lead_time=0)
    )
    assert int(counts.sum("bin")) == 4 * 9 * 18  # every init time and grid point falls in one bin
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert len(rows) == 8 and {"crps", "rmse", "spread_skill", "above_2sigma_auc"} <= set(rows[0])


def test_score_against_a_catalog_truth_with_percentile_events(prepared, sources, tmp_path):
    out = tmp_path / "scores.zarr"
    code = main(
        [
            "score",
            "--forecast",
            str(prepared),
            "--truth",
            "rean",
            "--catalog",
            str(sources / "catalog.yaml"),
            "--out",
            str(out),
            "--region",
            "tropics",
            "-q",
        ]
    )
    assert code == 0
    scores = xr.open_zarr(out, consolidated=False)
    assert "above_p95" in scores["event"].values and scores.attrs["region"] == "tropics"
    assert np.isfinite(scores["crps"].values).all()


def test_score_errors_are_clear(tmp_path, capsys, sources):
    assert main(["score", "--forecast", str(tmp_path / "nope.zarr")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "half.zarr.partial").mkdir()
    assert main(["score", "--forecast", str(tmp_path / "half.zarr.partial")]) == 2
    assert "unfinished store" in capsys.readouterr().err
    xr.Dataset(
        {"z500": (("time", "lat", "lon"), np.zeros((1, 2, 2)))},
        coords={"lat": [0, 1], "lon": [0, 1]},
    ).to_netcdf(tmp_path / "flat.nc")
    assert main(["score", "--forecast", str(tmp_path / "flat.nc")]) == 2
    assert "needs a 'init_time' dimension" in capsys.readouterr().err


def test_score_against_a_baseline_ensemble_or_its_score_file(prepared, tmp_path, capsys):
    """An ensemble shifted by ten times its spread, and noisier, is worse in CRPS and RMSE at
    every init time, so the bootstrap calls the original better; against itself everything
    is undecided."""
    ensemble = open_complete(prepared).load()
    rng = np.random.default_rng(0)
    noisy = ensemble.map(
        lambda v: v + v.std(("member", "lat", "lon")) * (10 + v.copy(data=rng.normal(size=v.shape)))
    )
    noisy.drop_attrs().to_netcdf(tmp_path / "noisy.nc")
    out = tmp_path / "scores.nc"
    args = ["score", "--forecast", str(prepared), "--out", str(out), "-q"]
    assert main([*args, "--baseline", str(tmp_path / "noisy.nc")]) == 0
    printed = capsys.readouterr().out
    assert "crps_vs_baseline" in printed and "better" in printed
    scores = xr.open_dataset(out).load()
    assert (scores["baseline_verdict"].sel(score=["crps", "rmse"]) == -1).all()
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert {row["crps_vs_baseline"] for row in rows} == {"better"}

    # the noisy ensemble's score file as the baseline: the same comparison
    noisy_scores = score_ensemble(
        noisy,
        open_complete(prepared, "truth"),
        climatology=open_complete(prepared, "climatology"),
    ).compute()
    write_scores(noisy_scores, tmp_path / "noisy_scores.nc")
    again = tmp_path / "again.nc"
    baseline = ["--baseline", str(tmp_path / "noisy_scores.nc")]
    assert main([*args[:-3], "--out", str(again), *baseline, "-q"]) == 0
    xr.testing.assert_allclose(
        xr.open_dataset(again)["baseline_difference"], scores["baseline_difference"]
    )
    own = tmp_path / "self.nc"
    assert main([*args[:-3], "--out", str(own), "--baseline", str(prepared), "-q"]) == 0
    itself = xr.open_dataset(own)
    np.testing.assert_array_equal(itself["baseline_difference"], 0.0)
    assert (itself["baseline_verdict"] == 0).all()


def test_a_baseline_that_cannot_be_compared_is_one_error_line(prepared, tmp_path, capsys):
    out = tmp_path / "scores.nc"
    args = ["score", "--forecast", str(prepared), "--out", str(out), "-q"]
    assert main([*args, "--baseline", str(tmp_path / "missing.nc")]) == 2
    assert "missing.nc: no such file" in capsys.readouterr().err
    assert main([*args, "--region", "tropics"]) == 0
    assert main([*args[:-3], "--out", str(tmp_path / "b.nc"), "--baseline", str(out), "-q"]) == 2
    assert "scores the region 'tropics', not 'global'" in capsys.readouterr().err
    old = xr.open_dataset(out).load().drop_vars(["crps_per_case", "mse_per_case"])
    old.drop_vars("event_brier_per_case").to_netcdf(tmp_path / "old.nc")
    assert (
        main(
            [
                *args[:-3],
                "--out",
                str(tmp_path / "c.nc"),
                "--baseline",
                str(tmp_path / "old.nc"),
                "--region",
                "tropics",
                "-q",
            ]
        )
        == 2
    )
    assert "no per-init-time scores" in capsys.readouterr().err
