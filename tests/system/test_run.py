"""`forecast run --quick` end to end, the report, `forecast plot`, and offline maps."""

import json
import socket

import numpy as np
import pytest
import xarray as xr

from forecast.cli import main
from forecast.reference_ensembles import climatological_ensemble
from forecast.report import score_table
from forecast.scoring import metrics
from pipelines.store import open_complete, write_store

ENSEMBLES = ("2 seeds", "physics 31", "SEEDS-GEE 8", "SEEDS-GPP 8", "VAE-CRPS 8", "climatology")


@pytest.fixture(scope="module")
def quick_run(tiny_catalog, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "world"
    args = ["run", "--quick", "--out", str(out), "--catalog", str(tiny_catalog), "-q"]
    assert main(args) == 0
    return out


def test_the_quick_run_writes_a_report_with_every_ensemble(quick_run):
    report = (quick_run / "report" / "report.md").read_text()
    for name in ENSEMBLES:
        assert f"| {name} |" in report, name
    figures = sorted(p.name for p in (quick_run / "report").glob("*.png"))
    for expected in (
        "maps_seeds-gee.png",
        "maps_vae-crps.png",
        "extreme_event_seeds-gpp.png",
        "rank_histograms_z500.png",
        "reliability_z500.png",
        "scores_vs_lead_z500.png",
        "spectra_z500.png",
    ):
        assert expected in figures
        assert f"]({expected})" in report
    numbers = json.loads((quick_run / "report" / "report.json").read_text())
    gee = numbers["scores"]["SEEDS-GEE 8"]["z500"]["120h"]
    assert gee["members"] == 8 and 0 < gee["crps"] < gee["rmse"] * 2
    assert all(name in numbers["costs"] for name in ENSEMBLES[:5])
    # each model cell of fair CRPS, RMSE and BSS marked against the physics ensemble
    assert "▲ better, ▼ worse, ≈ undecided than physics 31 at 95%" in report
    gee_row = next(line for line in report.splitlines() if "| SEEDS-GEE 8 |" in line)
    assert sum(gee_row.count(mark) for mark in "▲▼≈") == 3
    physics_row = next(line for line in report.splitlines() if "| physics 31 |" in line)
    assert not any(mark in physics_row for mark in "▲▼≈")
    # the tiny world's 32 longitudes resolve zonal wavenumbers up to 10: no small-scale band
    assert np.isnan(gee["energy_small"])


def test_the_report_numbers_are_the_scores_of_the_stores(quick_run):
    """The table's CRPS for the generated ensemble, recomputed from its store."""
    ensemble = open_complete(quick_run / "ensembles" / "seeds-gee.zarr")
    truth = open_complete(quick_run / "ensembles" / "seeds-gee.zarr", "truth")
    lead = np.timedelta64(120, "h")
    expected = metrics.weighted_mean(
        metrics.crps(ensemble["z500"].sel(lead_time=lead), truth["z500"].sel(lead_time=lead)),
        dims=("init_time", "lat", "lon"),
    )
    numbers = json.loads((quick_run / "report" / "report.json").read_text())
    assert numbers["scores"]["SEEDS-GEE 8"]["z500"]["120h"]["crps"] == pytest.approx(
        float(expected), rel=1e-5
    )


def test_a_run_folder_from_other_inputs_is_refused_with_advice_that_works(
    tiny_catalog, tmp_path, capsys
):
    """Stores prepared another way (another version of forecast, other settings) stop the
    run with advice it can take, not an option only `forecast prepare` has; its models
    were trained on them, so the run does not replace them behind its models' back."""
    out = tmp_path / "world"
    stale = xr.Dataset({"z500": (("time",), np.zeros(2, np.float32))}, coords={"time": [0, 1]})
    write_store(out / "prepared" / "world-truth.zarr", {"": stale}, outer="time", key="other")
    args = ["run", "--quick", "--out", str(out), "--catalog", str(tiny_catalog), "-q"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "world-truth.zarr was prepared by another version" in error
    assert "delete the run folder or choose another --out" in error
    assert "--overwrite" not in error
    assert not (out / "models").exists()


def test_a_second_run_reuses_what_is_built(quick_run, tiny_catalog):
    weights = quick_run / "models" / "seeds-gee" / "model.safetensors"
    store = quick_run / "ensembles" / "vae-crps.zarr"
    before = (weights.stat().st_mtime_ns, store.stat().st_mtime_ns)
    args = ["run", "--quick", "--out", str(quick_run), "--catalog", str(tiny_catalog), "-q"]
    assert main(args) == 0
    assert (weights.stat().st_mtime_ns, store.stat().st_mtime_ns) == before


def test_plot_makes_maps_and_score_figures_from_any_files(quick_run, tmp_path, capsys):
    ensemble = quick_run / "ensembles" / "seeds-gpp.zarr"
    scores = sorted((quick_run / "report").glob("scores_*.nc"))[:2]
    args = ["plot", "--ensemble", str(ensemble), "--lead", "24h", "--out", str(tmp_path)]
    assert main([*args, "--scores", *map(str, scores)]) == 0
    made = {p.name for p in tmp_path.glob("*.png")}
    assert {"maps_z500.png", "extreme_event_z500.png", "rank_histograms_z500.png"} <= made
    assert "spectra_z500.png" in made
    assert main(["plot", "--ensemble", str(ensemble), "--lead", "7h", "--out", str(tmp_path)]) == 2
    assert "lead times ['7h'] are not in the source" in capsys.readouterr().err
    assert main(["plot", "--scores", str(tmp_path / "missing.nc")]) == 2


def test_maps_render_with_coastlines_and_no_network(monkeypatch, tmp_path):
    import cartopy.feature as cfeature

    from forecast.plots import map_panels, use_offline_shapes

    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    use_offline_shapes()
    assert len(list(cfeature.COASTLINE.with_scale("110m").geometries())) > 100
    lat, lon = np.linspace(-87.5, 87.5, 36), np.arange(0, 360, 5.0)
    field = xr.DataArray(
        np.cos(np.deg2rad(lat))[:, None] * np.sin(np.deg2rad(lon)), coords={"lat": lat, "lon": lon}
    )
    figure = map_panels({"a": field, "b": -field}, units="m")
    figure.savefig(tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_the_climatological_ensemble_scores_like_the_gaussian_climatology(tiny_prepared):
    store = tiny_prepared["world-operational"]
    truth = open_complete(store, "truth").isel(init_time=slice(0, 3))
    climatology = open_complete(store, "climatology")
    ensemble = climatological_ensemble(truth, climatology, members=51)
    from pipelines.align import valid_time
    from pipelines.climatology import climatology_at

    stats = climatology_at(climatology["z500"], valid_time(truth))
    mean, std = stats.sel(statistic="mean"), stats.sel(statistic="std")
    np.testing.assert_allclose(ensemble["z500"].mean("member"), mean, rtol=1e-5)
    # equally spaced normal quantiles: the closed-form CRPS of N(mu, sigma^2) within 1%
    ensemble_crps = float(metrics.crps(ensemble["z500"], truth["z500"], estimator="nrg").mean())
    closed_form = float(metrics.crps_gaussian(mean, std, truth["z500"]).mean())
    assert ensemble_crps == pytest.approx(closed_form, rel=0.01)


def test_score_table_has_a_row_per_ensemble_and_lead(quick_run):
    tables = {
        p.stem.removeprefix("scores_"): xr.open_dataset(p)
        for p in sorted((quick_run / "report").glob("scores_*.nc"))
    }
    for table in tables.values():
        table.attrs["members"] = 8
    leads = next(iter(tables.values()))["lead_time"].values
    text = score_table(tables, "z500", leads, {})
    assert len(text.splitlines()) == 2 + len(tables) * len(leads)


@pytest.mark.parametrize("name", ["quickstart", "scoring"])
def test_notebooks_run_on_the_quick_run(name, quick_run, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    from pipelines.catalog import DEFAULT_CATALOG

    root = DEFAULT_CATALOG.parent
    book = nbformat.read(root / "notebooks" / f"{name}.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code")
    monkeypatch.setenv("FORECAST_RUN", str(quick_run))
    monkeypatch.setenv("PYTHONPATH", str(root))
    NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(root)}}
    ).execute()
    outputs = [o for cell in book.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the figures were drawn
