"""Static fields (orography, land-sea mask) named in the catalog: read in ERA5's layout,
put on the prepared grid, written to /static, and carried into training and generation."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.context import CONTEXTS, standardised_static
from forecast.generate import generate
from forecast.samples import AnomalyEnsemble, SeedsSamples
from forecast.train import budget_config, train
from pipelines import ConfigError, DataError, load_catalog
from pipelines.prepare import prepare_entry
from pipelines.store import open_complete

STATIC = """  static:
    orography: orography.nc
    land_sea_mask: {path: invariants.nc, variable: lsm}
"""


def base_catalog(sources) -> str:
    """The ``sources`` fixture's catalog (its forecast entry last), without static fields."""
    return (sources / "catalog.yaml").read_text().split("  static:")[0]


def write_static_sources(folder) -> np.ndarray:
    """ERA5's layout: latitude 90..-90, longitude -180..170, one time; the orography on the
    forecast's 19 x 36 grid, a constant land-sea mask on a coarser 10 x 18 one (beside
    another variable). Returns the orography as stored in the source."""
    rng = np.random.default_rng(5)
    lat, lon = np.linspace(90, -90, 19), np.linspace(-180, 180, 36, endpoint=False)
    orography = rng.uniform(0, 3000, size=(1, 19, 36)).astype("f4")
    xr.Dataset(
        {"z": (("time", "latitude", "longitude"), orography)},
        coords={"time": pd.to_datetime(["2020-01-01"]), "latitude": lat, "longitude": lon},
    ).to_netcdf(folder / "orography.nc")
    coarse_lat = np.linspace(81, -81, 10)
    coarse_lon = np.linspace(0, 360, 18, endpoint=False)
    xr.Dataset(
        {
            "lsm": (("latitude", "longitude"), np.full((10, 18), 0.25, "f4")),
            "other": (("latitude", "longitude"), np.zeros((10, 18), "f4")),
        },
        coords={"latitude": coarse_lat, "longitude": coarse_lon},
    ).to_netcdf(folder / "invariants.nc")
    return orography[0]


@pytest.fixture
def with_static(sources):
    base = base_catalog(sources)
    orography = write_static_sources(sources)
    (sources / "catalog.yaml").write_text(base + STATIC)
    store = prepare_entry(
        "ens", load_catalog(sources / "catalog.yaml"), sources / "out", progress=False
    )
    return sources, store, orography


def test_static_fields_land_on_the_prepared_grid(with_static):
    _, store, orography = with_static
    static = open_complete(store, "static")
    data = open_complete(store)
    assert sorted(static.data_vars) == ["land_sea_mask", "orography"]
    np.testing.assert_array_equal(static["lat"], data["lat"])
    np.testing.assert_array_equal(static["lon"], data["lon"])
    # lat flipped to ascending, lon -180..170 turned to 0..350: the same values, moved
    expected = np.roll(orography[::-1], 18, axis=1)
    np.testing.assert_array_equal(static["orography"].transpose("lat", "lon").values, expected)
    # conservative regridding keeps a constant
    np.testing.assert_allclose(static["land_sea_mask"].values, 0.25, rtol=1e-6)


def test_samples_train_and_generate_with_the_static_fields(with_static, tmp_path):
    sources, store, _ = with_static
    base = base_catalog(sources)
    ensemble = AnomalyEnsemble.load(store)
    samples = SeedsSamples(ensemble, context=CONTEXTS)
    assert samples.static_names == ("land_sea_mask", "orography")  # sorted: a fixed order
    condition = samples[0]["condition"].numpy()
    expected = standardised_static(
        np.stack([ensemble.static["land_sea_mask"], ensemble.static["orography"]])
    )
    np.testing.assert_allclose(condition[-2:], expected, atol=1e-6)
    assert np.all(condition[-2] == 0)  # a constant field standardises to zero

    checkpoint = train(
        store, tmp_path / "gee", budget_config("seeds-gee", "tiny", steps=2), progress=False
    )
    out = generate(checkpoint, store, tmp_path / "gen.zarr", n_members=2, inits=[0], progress=False)
    assert np.isfinite(open_complete(out)["z500"].values).all()
    # a store without the static fields the model was trained with is refused by name
    plain = sources / "plain.yaml"
    plain.write_text(base)
    other = prepare_entry("ens", load_catalog(plain), sources / "plain", progress=False)
    with pytest.raises(DataError, match="static fields \\['land_sea_mask', 'orography'\\]"):
        generate(checkpoint, other, tmp_path / "gen2.zarr", n_members=2, inits=[0], progress=False)


@pytest.mark.parametrize(
    "spec, error",
    [
        ("static: [orography.nc]", "mapping of names"),
        ("static: {orography: {file: orography.nc}}", "static field 'orography'"),
        ("static: {2d: orography.nc}", "static field '2d'"),
    ],
)
def test_bad_static_entries_are_refused(sources, spec, error):
    base = base_catalog(sources)
    (sources / "catalog.yaml").write_text(base + "  " + spec + "\n")
    with pytest.raises(ConfigError, match=error):
        load_catalog(sources / "catalog.yaml")["ens"]


def test_unusable_static_files_are_one_clear_error(sources):
    base = base_catalog(sources)
    write_static_sources(sources)
    xr.Dataset(
        {"z": (("time", "latitude", "longitude"), np.zeros((2, 19, 36), "f4"))},
        coords={
            "time": pd.to_datetime(["2020-01-01", "2020-01-02"]),
            "latitude": np.linspace(90, -90, 19),
            "longitude": np.linspace(0, 360, 36, endpoint=False),
        },
    ).to_netcdf(sources / "orography.nc")
    (sources / "catalog.yaml").write_text(base + STATIC)
    catalog = load_catalog(sources / "catalog.yaml")
    with pytest.raises(DataError, match="not one latitude/longitude map"):
        prepare_entry("ens", catalog, sources / "out", progress=False)
    (sources / "catalog.yaml").write_text((base + STATIC).replace("variable: lsm", "variable: sea"))
    (sources / "orography.nc").unlink()
    write_static_sources(sources)
    with pytest.raises(DataError, match="has no variable 'sea'"):
        prepare_entry(
            "ens", load_catalog(sources / "catalog.yaml"), sources / "out", progress=False
        )
    (sources / "catalog.yaml").write_text(
        (base + STATIC).replace("orography.nc", "s3://bucket/z.nc")
    )
    with pytest.raises(DataError, match="local files"):
        prepare_entry(
            "ens", load_catalog(sources / "catalog.yaml"), sources / "out", progress=False
        )
