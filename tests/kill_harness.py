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


def _progress(out: Path) -> Path:
    return out.with_name(out.name + ".partial.progress.json")


def _stamp(store: Path) -> int | None:
    try:
        return _progress(store).stat().st_mtime_ns
    except FileNotFoundError:
        return None


def blocks_recorded(out: Path) -> int:
    try:
        record = json.loads(_progress(out).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(len(group["done"]) for group in record["groups"].values())


def run_to_end(args: list[str]) -> float:
    """Run ``forecast ARGS`` to completion; returns its wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "forecast.cli", *args],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"forecast {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def _start_and_write_times(args: list[str], store: Path) -> tuple[float, float]:
    """Run to the end; seconds until the store's progress record appears, and until it goes."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "forecast.cli", *args],
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    writing = written = None
    while process.poll() is None:
        if writing is None and _progress(store).exists():
            writing = time.perf_counter()
        if writing is not None and written is None and not _progress(store).exists():
            written = time.perf_counter()  # renamed into place; the process is exiting
        time.sleep(0.005)
    end = time.perf_counter()
    if process.returncode != 0:
        raise RuntimeError(f"forecast {' '.join(args)} failed:\n{process.stderr.read()[-2000:]}")
    writing = writing or end
    return writing - start, (written or end) - writing


Command = Callable[[Path], list[str]]  # the CLI arguments that write the given store


def kill_and_resume(
    name: str,
    command: Command,
    store: Path,
    reference: Path,
    *,
    seed: int,
    kills: int,
    startup_share: float = 0.2,
    window_share: float = 1.0,
) -> Outcome:
    """Kill ``command(store)`` ``kills`` times at random moments, then let it finish.

    ``command(reference)``, run first without interruption, gives the reference store and
    the timings the kill moments are drawn from: a share ``startup_share`` of the kills
    during start-up and reading, the others while the store is written. The outcome says
    whether the final store is identical to the reference. ``window_share`` < 1 keeps the
    kills in the first part of the writing window, so that resumed runs, which have less
    left to write, are still interrupted rather than finishing first.
    """
    rng = np.random.default_rng(seed)
    startup, writing = _start_and_write_times(command(reference), reference)
    args = command(store)
    outcome = Outcome(name, seed)
    for _ in range(kills):
        errors = tempfile.TemporaryFile("w+")
        process = subprocess.Popen(
            [sys.executable, "-m", "forecast.cli", *args],
            env=_environment(),
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
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
            if process.returncode != 0:
                errors.seek(0)
                raise RuntimeError(
                    f"forecast {' '.join(args)} exited {process.returncode}:\n{errors.read()[-2000:]}"
                )
            shutil.rmtree(store)
            continue
        was_writing = _progress(store).exists()
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
    from pipelines.store import open_complete

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


def prepare_job(folder: Path, times: int = 400) -> Command:
    """``forecast prepare`` of a ``times``-time netCDF reanalysis, one time per block.

    The store is ``<out>/rean.zarr``: the command is given its folder.
    """
    import pandas as pd
    from conftest import synthetic_reanalysis

    synthetic_reanalysis(
        pd.date_range("2000-01-01", periods=times, freq="6h"), n_lat=19, n_lon=36
    ).to_netcdf(folder / "rean.nc")
    catalog = folder / "catalog.yaml"
    catalog.write_text("rean: {role: reanalysis, format: netcdf, path: rean.nc}\n")

    def command(store: Path) -> list[str]:
        assert store.name == "rean.zarr"
        return [
            "prepare", "rean", "--catalog", str(catalog), "--out", str(store.parent),
            "--chunk-mb", "0.01", "-q",
        ]  # fmt: skip

    return command


def generate_job(checkpoint: Path, source: Path) -> Command:
    """``forecast generate`` of 6 members for every init time of ``source``, 4 steps each."""

    def command(store: Path) -> list[str]:
        return [
            "generate", "--checkpoint", str(checkpoint), "--from", str(source),
            "--members", "6", "--steps", "4", "--out", str(store), "-q",
        ]  # fmt: skip

    return command


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
            jobs = {
                "prepare": prepare_job(_fresh(folder / f"prepare-{seed}")),
                "generate": generate_job(checkpoint, source),
            }
            for name, command in jobs.items():
                work = _fresh(folder / f"{name}-{seed}-run")
                outcome = kill_and_resume(
                    name,
                    command,
                    work / "out" / "rean.zarr" if name == "prepare" else work / "ens.zarr",
                    work / "reference" / "rean.zarr" if name == "prepare" else work / "ref.zarr",
                    seed=seed,
                    kills=options.kills,
                )
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
