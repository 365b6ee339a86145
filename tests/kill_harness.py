"""Kill a ``forecast`` command with SIGKILL at random moments, run it again, compare.

Used by tests/test_crashes.py with a few kills, and on its own for a longer study::

    python tests/kill_harness.py --kills 10 --seeds 0 1 2

For each command: one uninterrupted run gives the reference store and the timings; then,
for each seed, the command is started and killed ``kills`` times (20% of the kills during
start-up and reading, the rest at a uniform moment of the writing phase, which begins
when the store's progress record appears), and finally run to completion. The final store
must be identical to the reference: same coordinates (no gaps, no duplicated members or
init times) and the same values, bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from pipelines.store import open_complete, progress_record

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Outcome:
    """What the kills of one command and seed did."""

    command: str
    seed: int
    kills: int = 0
    mid_write: int = 0  # kills that landed while the store was being written
    # (the others: during start-up and reading, or after the final rename, before the exit)
    finished_first: int = 0  # runs that ended before their kill came
    blocks_at_kill: list[int] = field(default_factory=list)
    identical: bool = False


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("FORECAST_SCHEDULER", "threads")
    return env


def _stamp(store: Path) -> int | None:
    try:
        return progress_record(store).stat().st_mtime_ns
    except FileNotFoundError:
        return None


def blocks_recorded(out: Path) -> int:
    try:
        record = json.loads(progress_record(out).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(len(group["done"]) for group in record["groups"].values())


def _spawn(args: list[str], stderr) -> subprocess.Popen:
    """``python -m forecast.cli ARGS`` in the harness's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "forecast.cli", *args],
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def _failed(args: list[str], code: int, stderr: str) -> RuntimeError:
    return RuntimeError(f"forecast {' '.join(args)} exited {code}:\n{stderr[-2000:]}")


def run_to_end(args: list[str]) -> float:
    """Run ``forecast ARGS`` to completion; returns its wall time."""
    start = time.perf_counter()
    process = _spawn(args, subprocess.PIPE)
    _, stderr = process.communicate(timeout=900)
    if process.returncode != 0:
        raise _failed(args, process.returncode, stderr)
    return time.perf_counter() - start


def _start_and_write_times(args: list[str], store: Path) -> tuple[float, float]:
    """Run to the end; seconds until the store's progress record appears, and until it goes."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        process = _spawn(args, errors)
        writing, written = _watch(process, store)
        if process.returncode != 0:
            errors.seek(0)
            raise _failed(args, process.returncode, errors.read())
    end = time.perf_counter()
    writing = writing or end
    return writing - start, (written or end) - writing


def _watch(process: subprocess.Popen, store: Path) -> tuple[float | None, float | None]:
    """Wait for ``process``; when the store's progress record appeared, and when it went."""
    writing = written = None
    while process.poll() is None:
        if writing is None and progress_record(store).exists():
            writing = time.perf_counter()
        if writing is not None and written is None and not progress_record(store).exists():
            written = time.perf_counter()  # renamed into place; the process is exiting
        time.sleep(0.005)
    return writing, written


@dataclass(frozen=True)
class Job:
    """A command that writes one store into the folder it is given."""

    name: str
    args: Callable[[Path], list[str]]  # folder -> CLI arguments
    store_name: str

    def store(self, folder: Path) -> Path:
        return folder / self.store_name


def kill_and_resume(
    job: Job,
    work: Path,
    *,
    seed: int,
    kills: int,
    startup_share: float = 0.2,
    window_share: float = 1.0,
) -> Outcome:
    """Kill ``job`` writing into ``work/run`` ``kills`` times at random moments, then let it
    finish.

    The job run first without interruption into ``work/reference`` gives the reference store and
    the timings the kill moments are drawn from: a share ``startup_share`` of the kills
    during start-up and reading, the others while the store is written. The outcome says
    whether the final store is identical to the reference. ``window_share`` < 1 keeps the
    kills in the first part of the writing window, so that resumed runs, which have less
    left to write, are still interrupted rather than finishing first.
    """
    rng = np.random.default_rng(seed)
    store, reference = job.store(work / "run"), job.store(work / "reference")
    startup, writing = _start_and_write_times(job.args(reference.parent), reference)
    args = job.args(store.parent)
    outcome = Outcome(job.name, seed)
    for _ in range(kills):
        errors = tempfile.TemporaryFile("w+")
        process = _spawn(args, errors)
        during_startup = rng.random() < startup_share
        delay = rng.uniform(0, startup if during_startup else window_share * writing)
        deadline = time.perf_counter() + delay if during_startup else None
        before = _stamp(store)
        while process.poll() is None:
            # writing has begun when this process creates or updates the progress record
            if deadline is None and _stamp(store) not in (before, None):
                deadline = time.perf_counter() + delay
            if deadline is not None and time.perf_counter() >= deadline:
                break
            time.sleep(0.005)
        if process.poll() is not None:  # it finished first: start over from nothing
            outcome.finished_first += 1
            errors.seek(0)
            message = errors.read()
            errors.close()
            if process.returncode != 0:
                raise _failed(args, process.returncode, message)
            shutil.rmtree(store)
            continue
        was_writing = progress_record(store).exists()
        process.send_signal(signal.SIGKILL)
        process.wait()
        errors.close()
        outcome.kills += 1
        outcome.blocks_at_kill.append(blocks_recorded(store))
        outcome.mid_write += int(was_writing)
    run_to_end(args)
    outcome.identical = stores_identical(store, reference)
    return outcome


def stores_identical(a: Path, b: Path) -> bool:
    """Same groups, coordinates and values (attributes that record when or where aside)."""
    for group in (None, "truth", "climatology", "stats"):
        if group is not None and not (a / group).exists():
            continue
        left = open_complete(a, group).load()
        right = open_complete(b, group).load()
        try:
            xr.testing.assert_identical(left.drop_attrs(), right.drop_attrs())
        except AssertionError:
            return False
    return True


def prepare_job(folder: Path, times: int = 400) -> Job:
    """``forecast prepare`` of a ``times``-time netCDF reanalysis, one time per block."""
    import pandas as pd
    from conftest import synthetic_reanalysis

    synthetic_reanalysis(
        pd.date_range("2000-01-01", periods=times, freq="6h"), n_lat=19, n_lon=36
    ).to_netcdf(folder / "rean.nc")
    catalog = folder / "catalog.yaml"
    catalog.write_text("rean: {role: reanalysis, format: netcdf, path: rean.nc}\n")

    def args(out: Path) -> list[str]:
        return [
            "prepare", "rean", "--catalog", str(catalog), "--out", str(out),
            "--chunk-mb", "0.01", "-q",
        ]  # fmt: skip

    return Job("prepare", args, "rean.zarr")


def generate_job(checkpoint: Path, source: Path) -> Job:
    """``forecast generate`` of 6 members for every init time of ``source``, 4 steps each."""

    def args(out: Path) -> list[str]:
        return [
            "generate", "--checkpoint", str(checkpoint), "--from", str(source),
            "--members", "6", "--steps", "4", "--out", str(out / "ens.zarr"), "-q",
        ]  # fmt: skip

    return Job("generate", args, "ens.zarr")


def world_checkpoint(folder: Path) -> tuple[Path, Path]:
    """A two-step SEEDS-GEE checkpoint on the tiny world, and its operational store."""
    from forecast.train import budget_config, train
    from pipelines import load_catalog
    from pipelines.prepare import prepare_entry
    from pipelines.world import WorldSettings, build_world

    cache = folder / "world"
    build_world(WorldSettings(profile="tiny"), cache, progress=False)
    text = load_catalog().path.read_text().replace("profile: default", "profile: tiny")
    (folder / "catalog.yaml").write_text(text.replace("path: data/world", f"path: {cache}"))
    catalog = load_catalog(folder / "catalog.yaml")
    stores = {
        name: prepare_entry(name, catalog, folder / "prepared", progress=False)
        for name in ("world-reforecast", "world-operational")
    }
    config = budget_config("seeds-gee", "tiny", steps=2)
    checkpoint = train(stores["world-reforecast"], folder / "gee", config, progress=False)
    return checkpoint, stores["world-operational"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10, help="kills per command and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    options = parser.parse_args()
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint, source = world_checkpoint(folder)
        for seed in options.seeds:
            jobs = [
                prepare_job(_fresh(folder / f"prepare-{seed}")),
                generate_job(checkpoint, source),
            ]
            for job in jobs:
                work = _fresh(folder / f"{job.name}-{seed}-run")
                outcome = kill_and_resume(job, work, seed=seed, kills=options.kills)
                outcomes.append(outcome)
                print(outcome, flush=True)
    kills = sum(o.kills for o in outcomes)
    print(
        f"{kills} kills ({sum(o.mid_write for o in outcomes)} while writing the store), "
        f"{sum(o.finished_first for o in outcomes)} runs finished before their kill; "
        f"final stores identical to uninterrupted runs: {sum(o.identical for o in outcomes)}"
        f"/{len(outcomes)}"
    )
    if not all(o.identical for o in outcomes):
        sys.exit(1)


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.path.insert(0, str(ROOT))
    main()
