"""prepare and score on a dask.distributed cluster give what they give on threads."""

from __future__ import annotations

import pytest
import xarray as xr
from kill_harness import stores_identical

from forecast.cli import main
from pipelines.cluster import dask_scheduler, local_cluster_size


@pytest.fixture(scope="module")
def two_workers():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="2GiB",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def prepare_args(sources, entry: str, out, scheduler: str) -> list[str]:
    return [
        "prepare", entry, "--catalog", str(sources / "catalog.yaml"), "--out", str(out),
        "--grid", "20", "--scheduler", scheduler, "-q",
    ]  # fmt: skip


def test_prepare_on_a_two_worker_cluster_matches_threads(sources, two_workers, capsys):
    for entry in ("rean", "ens"):
        assert main(prepare_args(sources, entry, sources / "threads", "threads")) == 0
        assert main(prepare_args(sources, entry, sources / "cluster", two_workers)) == 0
        assert stores_identical(
            sources / "cluster" / f"{entry}.zarr", sources / "threads" / f"{entry}.zarr"
        )


def test_score_on_a_two_worker_cluster_matches_threads(sources, two_workers, capsys):
    assert main(prepare_args(sources, "ens", sources / "prepared", "threads")) == 0
    store = sources / "prepared" / "ens.zarr"
    for scheduler in ("threads", two_workers):
        out = sources / f"scores-{'threads' if scheduler == 'threads' else 'cluster'}.nc"
        args = ["score", "--forecast", str(store), "--out", str(out), "--scheduler", scheduler]
        assert main(args) == 0
    assert f"computing on dask scheduler {two_workers} (2 workers)" in capsys.readouterr().out
    threads = xr.open_dataset(sources / "scores-threads.nc").load()
    cluster = xr.open_dataset(sources / "scores-cluster.nc").load()
    xr.testing.assert_allclose(cluster.drop_attrs(), threads.drop_attrs(), rtol=1e-12, atol=0)


def test_an_unreachable_scheduler_is_a_clear_error(sources, capsys):
    import dask

    before = dask.config.get("scheduler", None)
    args = prepare_args(sources, "rean", sources / "out", "tcp://127.0.0.1:9")
    assert main(args) == 2
    assert dask.config.get("scheduler", None) == before  # later computations are unaffected
    err = capsys.readouterr().err
    assert "tcp://127.0.0.1:9: cannot connect to the dask scheduler" in err
    assert not (sources / "out" / "rean.zarr").exists()


def test_local_cluster_is_sized_to_the_machine():
    gib = 2**30
    assert local_cluster_size(cores=2, memory_bytes=24 * gib) == (2, 1, int(0.8 * 12 * gib))
    assert local_cluster_size(cores=16, memory_bytes=128 * gib) == (4, 4, int(0.8 * 32 * gib))
    assert local_cluster_size(cores=1, memory_bytes=8 * gib) == (1, 1, int(0.8 * 8 * gib))


def test_the_default_local_cluster_starts_and_computes():
    import dask.array as da

    with dask_scheduler("local") as where:
        assert where.startswith("local cluster: ")
        assert int(da.ones((100, 100), chunks=10).sum().compute()) == 10_000


def test_small_local_inputs_compute_on_threads_and_large_or_remote_ones_on_a_cluster(
    tmp_path, monkeypatch
):
    from pipelines.cluster import SMALL_INPUT_BYTES, default_scheduler, local_input_bytes

    monkeypatch.delenv("FORECAST_SCHEDULER", raising=False)
    (tmp_path / "a.nc").write_bytes(b"x" * 100)
    (tmp_path / "store.zarr" / "z").mkdir(parents=True)
    (tmp_path / "store.zarr" / "z" / "0").write_bytes(b"x" * 50)
    assert local_input_bytes([tmp_path / "a.nc", tmp_path / "store.zarr"]) == 150
    assert local_input_bytes([str(tmp_path / "*.nc")]) == 100
    assert local_input_bytes(["gs://bucket/era5.zarr"]) is None
    assert local_input_bytes([tmp_path / "missing.nc", tmp_path / "a.nc"]) == 100
    assert default_scheduler(150) == "threads"
    assert default_scheduler(SMALL_INPUT_BYTES) == "local"
    assert default_scheduler(None) == "local"
    monkeypatch.setenv("FORECAST_SCHEDULER", "tcp://somewhere:8786")
    assert default_scheduler(150) == "tcp://somewhere:8786"


def test_prepare_of_a_small_file_starts_no_cluster(sources, monkeypatch, capsys):
    from forecast.cli import main

    monkeypatch.delenv("FORECAST_SCHEDULER", raising=False)
    args = ["prepare", "rean", "--catalog", str(sources / "catalog.yaml"), "--out", str(sources)]
    assert main(args) == 0
    assert "computing on threads in this process" in capsys.readouterr().out
