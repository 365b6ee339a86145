"""Crashes, concurrent writers and full disks: nothing lost, nothing corrupted.

SIGKILL at random moments (tests/kill_harness.py), two writers of one store, and a disk
that fills up mid-write; each time the store ends identical to an uninterrupted run's.
"""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest
import zarr.storage._local as zarr_local
from kill_harness import (
    ROOT,
    Job,
    _environment,
    _spawn,
    generate_job,
    kill_and_resume,
    prepare_job,
    run_to_end,
    stores_identical,
)

from forecast.cli import main


@pytest.fixture
def generate(tiny_checkpoint, tiny_prepared) -> Job:
    return generate_job(tiny_checkpoint, tiny_prepared["world-operational"])


def finishes_like_an_uninterrupted_run(job: Job, folder: Path, reference: Path) -> bool:
    """Run ``job`` into ``folder`` to the end (in process) and compare with a clean run."""
    assert main(job.args(folder)) == 0
    run_to_end(job.args(reference))
    return stores_identical(job.store(folder), job.store(reference))


@pytest.mark.parametrize(("kind", "kills"), [("prepare", 3), ("generate", 2)])
@pytest.mark.parametrize("seed", [0, 1])
def test_killed_at_random_moments_resumes_to_the_same_store(kind, kills, seed, tmp_path, request):
    job = (
        prepare_job(tmp_path, times=150)
        if kind == "prepare"
        else request.getfixturevalue("generate")
    )
    outcome = kill_and_resume(
        job, tmp_path / "work", seed=seed, kills=kills, startup_share=0.0, window_share=0.3
    )
    assert outcome.kills + outcome.finished_first == kills, outcome
    assert outcome.mid_write >= 1, outcome
    assert outcome.identical, outcome


HOLD_LOCK = """
import sys, time
from pathlib import Path
from pipelines.store import single_writer
with single_writer(Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_second_writer_refuses_while_the_first_holds_the_store_even_after_a_kill(
    generate, tmp_path, capsys
):
    store = generate.store(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(store)],
        env=_environment(),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert main(generate.args(tmp_path)) == 2
        err = capsys.readouterr().err
        assert f"{store}: another forecast process (pid {holder.pid})" in err
        assert not store.exists()
    finally:
        holder.kill()  # SIGKILL: the kernel releases the lock
        holder.wait()
    assert finishes_like_an_uninterrupted_run(generate, tmp_path, tmp_path / "reference")


def test_two_generate_processes_on_one_store_never_corrupt_it(generate, tmp_path):
    processes = [_spawn(generate.args(tmp_path), subprocess.PIPE) for _ in range(2)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in processes]
    codes = sorted(code for code, _ in results)
    # one writes; the other refuses while it does, or finds the finished store and stops
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            assert "another forecast process" in err and "is writing this store" in err
    run_to_end(generate.args(tmp_path / "reference"))
    assert stores_identical(generate.store(tmp_path), generate.store(tmp_path / "reference"))


@pytest.fixture
def disk_of(monkeypatch):
    """Make zarr's file writes fail with ENOSPC once ``capacity`` bytes have been written."""
    original = zarr_local._put
    written = {"bytes": 0, "calls": 0}

    def fill(capacity: int) -> dict[str, int]:
        def put(path, value, exclusive=False):
            size = len(value.as_buffer_like())
            if written["bytes"] + size > capacity:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            written["bytes"] += size
            written["calls"] += 1
            return original(path, value, exclusive)

        monkeypatch.setattr(zarr_local, "_put", put)
        return written

    return fill


def test_a_disk_filling_up_mid_prepare_fails_clearly_and_resumes(
    tmp_path, disk_of, monkeypatch, capsys
):
    job = prepare_job(tmp_path, times=60)
    store = job.store(tmp_path / "out")
    written = disk_of(60_000)
    assert main(job.args(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "rean.zarr: write failed (No space left on device); fix and run again" in err
    assert not store.exists() and Path(f"{store}.partial").exists()
    assert written["calls"] > 10  # it failed part-way, not at the start
    monkeypatch.undo()  # space freed
    assert finishes_like_an_uninterrupted_run(job, tmp_path / "out", tmp_path / "reference")


def test_a_disk_filling_up_mid_generate_fails_clearly_and_resumes(
    generate, tmp_path, disk_of, monkeypatch, capsys
):
    store = generate.store(tmp_path)
    written = disk_of(150_000)
    assert main(generate.args(tmp_path)) == 2
    assert "ens.zarr: write failed (No space left on device)" in capsys.readouterr().err
    assert not store.exists() and written["calls"] > 5
    monkeypatch.undo()
    assert finishes_like_an_uninterrupted_run(generate, tmp_path, tmp_path / "reference")


class Killed(BaseException):
    """Stands for SIGKILL at a chosen moment (BaseException: nothing catches it)."""


def test_a_kill_after_a_template_was_written_but_not_recorded_resumes(tmp_path, monkeypatch):
    # Found by the kill harness: the second run failed with "variable already exists".
    import xarray as xr

    job = prepare_job(tmp_path, times=12)
    original = xr.Dataset.to_zarr

    def template_then_die(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if kwargs.get("compute") is False:
            raise Killed
        return result

    monkeypatch.setattr(xr.Dataset, "to_zarr", template_then_die)
    with pytest.raises(Killed):
        main(job.args(tmp_path / "out"))
    monkeypatch.undo()
    assert finishes_like_an_uninterrupted_run(job, tmp_path / "out", tmp_path / "reference")


@pytest.mark.parametrize("group", ["climatology", "stats"])
def test_a_kill_while_the_statistics_are_written_resumes(group, tmp_path, monkeypatch):
    """The climatology and stats groups are written after the data: killed between the
    two, or after both but before they were recorded, the next run finishes the same."""
    import xarray as xr

    job = prepare_job(tmp_path, times=12)
    original = xr.Dataset.to_zarr

    def write_then_die(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if kwargs.get("group") == group:
            raise Killed
        return result

    monkeypatch.setattr(xr.Dataset, "to_zarr", write_then_die)
    with pytest.raises(Killed):
        main(job.args(tmp_path / "out"))
    monkeypatch.undo()
    assert finishes_like_an_uninterrupted_run(job, tmp_path / "out", tmp_path / "reference")
