from pathlib import Path

import pytest

from pipelines import ConfigError, load_catalog
from pipelines.catalog import DEFAULT_CATALOG


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    return path


def test_default_catalog_has_the_era5_sample_with_a_real_file():
    catalog = load_catalog()
    assert catalog.path == DEFAULT_CATALOG
    entry = catalog["era5-eda-sample"]
    assert entry.role == "reanalysis" and entry.format == "grib"
    assert Path(entry.path).is_file()


def test_minimal_entry_with_relative_path(tmp_path):
    catalog = load_catalog(write(tmp_path, "a: {role: reanalysis, format: zarr, path: sub/a.zarr}"))
    entry = catalog["a"]
    assert entry.path == str(tmp_path / "sub" / "a.zarr")
    assert entry.variables is None and entry.levels is None and entry.options == {}


def test_remote_paths_are_kept_as_urls(tmp_path):
    catalog = load_catalog(
        write(tmp_path, "a: {role: reanalysis, format: zarr, path: 'gs://b/a.zarr'}")
    )
    assert catalog["a"].path == "gs://b/a.zarr" and catalog["a"].is_remote


def test_variables_list_or_mapping(tmp_path):
    catalog = load_catalog(
        write(
            tmp_path,
            "a: {role: reanalysis, format: zarr, path: a, variables: [z500]}\n"
            "b: {role: reanalysis, format: zarr, path: b, variables: {z500: geopotential}}\n",
        )
    )
    assert catalog["a"].variables == {"z500": None}
    assert catalog["b"].variables == {"z500": "geopotential"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [unclosed", "not valid YAML"),
        ("a: {role: reanalysis, format: zarr}", "missing 'path'"),
        ("a: {role: truth, format: zarr, path: x}", "role 'truth'"),
        ("a: {role: reanalysis, format: hdf9, path: x}", "format 'hdf9'"),
        ("a: {role: reanalysis, format: zarr, path: x, colour: red}", "unknown keys"),
        ("a: {role: ensemble_forecast, format: zarr, path: x, truth: nope}", "names truth 'nope'"),
        ("- just a list", "mapping"),
    ],
)
def test_bad_catalogs_say_what_is_wrong(tmp_path, text, message):
    """A file that is no catalog is refused when loaded; a bad entry when it is used."""
    with pytest.raises(ConfigError, match=message) as caught:
        load_catalog(write(tmp_path, text))["a"]
    assert "catalog.yaml" in str(caught.value)


def test_misspelled_entry_suggests_the_right_one():
    with pytest.raises(ConfigError, match="Did you mean 'era5-eda-sample'"):
        load_catalog()["era5-eda-sampel"]


def test_missing_catalog_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_catalog(tmp_path / "nope.yaml")


def test_yaml_tags_that_would_run_code_are_refused(tmp_path):
    text = "a: !!python/object/apply:os.system ['echo hacked']"
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalog(write(tmp_path, text))
