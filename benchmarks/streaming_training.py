"""Training from a store larger than its reading needs: peak memory and loader speed.

    scripts/in-env python benchmarks/streaming_training.py --inits 200 --out /tmp/stream

Builds (once) a synthetic 1-degree (181 x 360) forecast store with `forecast prepare`:
``--inits`` daily init times, 5 lead times, 5 members, z500 and t500, verified against a
synthetic reanalysis. Then, each in its own process under ``/usr/bin/time -v``:
`forecast train` (quick architecture, batch 4) reading the store into memory, streamed
in the training process, and streamed by 2 worker processes: peak RSS and seconds per
step. Then the loader alone (2 workers) against the training step, and its bytes per
second against a plain zarr read of the same forecasts.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def build_store(out: Path, inits: int) -> Path:
    from conftest import synthetic_forecast, synthetic_reanalysis

    from pipelines import load_catalog
    from pipelines.prepare import prepare_entry

    store = out / "prepared" / "ens.zarr"
    if store.exists():
        return store
    out.mkdir(parents=True, exist_ok=True)
    starts = pd.date_range("2020-01-01", periods=inits, freq="D")
    times = pd.date_range(starts[0], starts[-1] + pd.Timedelta("5D"), freq="6h")
    synthetic_reanalysis(times, n_lat=181, n_lon=360).to_zarr(out / "rean.zarr", mode="w")
    forecast = synthetic_forecast(starts, [24, 48, 72, 96, 120], members=5, n_lat=181, n_lon=360)
    forecast.to_zarr(out / "ens-source.zarr", mode="w")
    (out / "catalog.yaml").write_text(
        "rean:\n  role: reanalysis\n  format: zarr\n  path: rean.zarr\n"
        "ens:\n  role: ensemble_forecast\n  format: zarr\n  path: ens-source.zarr\n"
        "  truth: rean\n  variables: [z500, t500]\n"
    )
    catalog = load_catalog(out / "catalog.yaml")
    return prepare_entry("ens", catalog, out / "prepared", progress=True)


def timed_training(store: Path, out: Path, reading: str, workers: int, steps: int) -> dict:
    """:func:`timed` `forecast train` (quick architecture, batch 4)."""
    return timed([
        "train", "--data", str(store), "--out", str(out), "--budget", "quick",
        "--batch-size", "4", "--steps", str(steps), "--read", reading,
        "--workers", str(workers), "-q",
    ])  # fmt: skip


def timed(arguments: list[str]) -> dict:
    """Run ``forecast ARGUMENTS`` in its own process: seconds, /usr/bin/time's maximum
    resident set (the largest single process), and the peak of the whole process tree's
    resident memory (the process plus any DataLoader workers, sampled every 0.2 s)."""
    import psutil

    command = ["/usr/bin/time", "-v", sys.executable, "-m", "forecast.cli", *arguments]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree_peak = 0
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            tree_peak = max(tree_peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    _, stderr = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode:
        raise RuntimeError(stderr[-2000:])
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1))
    return {"seconds": seconds, "max_rss_mb": rss / 1024, "tree_peak_mb": tree_peak / 2**20}


def loader_speed(store: Path, batches: int, batch_size: int = 4) -> dict:
    import torch
    import xarray as xr

    from forecast.samples import SeedsSamples, StreamedEnsemble
    from forecast.train import BatchPlan

    samples = SeedsSamples(StreamedEnsemble(store), seed=0)
    order = np.random.default_rng(0).permutation(len(samples))
    loader = torch.utils.data.DataLoader(
        samples,
        batch_sampler=BatchPlan(order, 0, batches, batch_size, 0, batch_size),
        num_workers=2,
        prefetch_factor=2,
        multiprocessing_context="spawn",
    )
    iterator = iter(loader)
    next(iterator)  # workers started
    start = time.perf_counter()
    for _ in range(batches - 1):
        next(iterator)
    per_batch = (time.perf_counter() - start) / (batches - 1)
    ensemble = samples.ensemble
    forecast_bytes = ensemble.shape[2] * len(ensemble.variables) * 181 * 360 * 4
    # a plain zarr read of the same forecasts (all members of one init and lead)
    data = xr.open_zarr(store, consolidated=False)
    start = time.perf_counter()
    pairs = [samples.pairs[int(i)] for i in order[: batch_size * 8]]
    for i, j in pairs:
        data[ensemble.variables].isel(init_time=i, lead_time=j).load()
    plain = (time.perf_counter() - start) / len(pairs)
    return {
        "loader_s_per_batch": per_batch,
        "loader_mb_per_s": batch_size * forecast_bytes / per_batch / 2**20,
        "plain_zarr_mb_per_s": forecast_bytes / plain / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inits", type=int, default=200)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("runs/streaming"))
    args = parser.parse_args()
    store = build_store(args.out, args.inits)
    size = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    print(f"store: {store} ({size / 2**30:.2f} GiB on disk)", flush=True)
    for reading, workers in (("memory", 0), ("stream", 0), ("stream", 2)):
        result = timed_training(
            store, args.out / f"ck-{reading}-{workers}", reading, workers, args.steps
        )
        print(
            f"train --read {reading} --workers {workers}: peak RSS {result['max_rss_mb']:.0f} MB"
            f" (largest process), {result['tree_peak_mb']:.0f} MB (all processes), "
            f"{result['seconds']:.0f} s for {args.steps} steps",
            flush=True,
        )
    speed = loader_speed(store, 12)
    print(
        f"loader (2 workers): {speed['loader_s_per_batch']:.2f} s per batch of 4 = "
        f"{speed['loader_mb_per_s']:.0f} MB/s of members; plain zarr read of the same "
        f"forecasts {speed['plain_zarr_mb_per_s']:.0f} MB/s (one process)"
    )


if __name__ == "__main__":
    main()
