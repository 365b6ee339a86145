"""Out-of-core scoring: an ensemble zarr several times larger than dask's memory limit.

Writes a synthetic ensemble (init_time, lead_time, member, lat, lon) and its truth
to zarr, then scores it (CRPS fair and standard, RMSE, spread, spread-skill, rank
histogram) on a dask.distributed LocalCluster whose single worker has ``--limit``
of memory, sampling the worker's resident memory every 0.1 s. It passes if the
scores complete and the peak stays under the limit.

    scripts/in-env python benchmarks/scoring_out_of_core.py --gib 8 --limit 2GiB
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path

import dask
import dask.array as dask_array
import numpy as np
import psutil
import xarray as xr
from dask.distributed import Client, LocalCluster
from dask.utils import format_bytes, parse_bytes

from forecast.scoring.metrics import ensemble_summary, rank_histogram


def write_ensemble(
    path: Path, gib: float, members: int, n_lat: int, n_lon: int, leads: int
) -> tuple[int, float]:
    field = n_lat * n_lon * 4
    inits = max(1, round(gib * 2**30 / (field * members * leads)))
    shape = (inits, leads, members, n_lat, n_lon)
    rng = dask_array.random.default_rng(0)
    centre = rng.standard_normal(
        (inits, leads, 1, n_lat, n_lon), chunks=(1, 1, 1, n_lat, n_lon), dtype=np.float32
    )
    noise = rng.standard_normal(shape, chunks=(1, 1, members, n_lat, n_lon), dtype=np.float32)
    truth = rng.standard_normal(
        (inits, leads, n_lat, n_lon), chunks=(1, 1, n_lat, n_lon), dtype=np.float32
    )
    coords = {
        "init_time": np.arange(inits),
        "lead_time": np.arange(leads),
        "member": np.arange(members),
        "lat": np.linspace(-90, 90, n_lat),
        "lon": np.linspace(0, 360, n_lon, endpoint=False),
    }
    forecast = xr.Dataset({"t850": (list(coords), centre + noise)}, coords=coords)
    observed = xr.Dataset(
        {"t850": (["init_time", "lead_time", "lat", "lon"], centre[:, :, 0] + truth)},
        coords={k: v for k, v in coords.items() if k != "member"},
    )
    with dask.config.set(scheduler="threads"):
        forecast.to_zarr(path / "ensemble.zarr", mode="w", zarr_format=3, consolidated=False)
        observed.to_zarr(path / "truth.zarr", mode="w", zarr_format=3, consolidated=False)
    return inits, float(np.prod(shape)) * 4 / 2**30


class PeakMemory:
    """Samples the summed resident memory of the given processes in a thread."""

    def __init__(self, pids: list[int], interval: float = 0.1) -> None:
        self.processes = [psutil.Process(p) for p in pids]
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(p.memory_info().rss for p in self.processes))
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gib", type=float, default=8.0, help="size of the ensemble to score")
    parser.add_argument("--limit", default="2GiB", help="memory limit of the dask worker")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--grid", type=int, nargs=2, default=[181, 360], metavar=("LAT", "LON"))
    parser.add_argument("--leads", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/forecast-bench-ooc"))
    parser.add_argument("--keep", action="store_true", help="keep the data for another run")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "out" / "scoring_out_of_core.json"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    inits, size = write_ensemble(args.workdir, args.gib, args.members, *args.grid, args.leads)
    write_s = time.perf_counter() - start
    print(
        f"wrote {size:.2f} GiB ({inits} init times x {args.leads} leads x {args.members} members) in {write_s:.0f} s"
    )
    limit = parse_bytes(args.limit)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, memory_limit=limit, processes=True
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = [info["pid"] for info in client.run(lambda: {"pid": psutil.Process().pid}).values()]
        forecast = xr.open_zarr(args.workdir / "ensemble.zarr", consolidated=False)
        truth = xr.open_zarr(args.workdir / "truth.zarr", consolidated=False)
        summary = ensemble_summary(forecast, truth, dims=("init_time", "lat", "lon"))
        histogram = rank_histogram(forecast["t850"], truth["t850"])
        start = time.perf_counter()
        with PeakMemory(pids) as memory:
            summary, histogram = dask.compute(summary, histogram)
        score_s = time.perf_counter() - start
    result = {
        "data_gib": size,
        "worker_limit": format_bytes(limit),
        "peak_worker_rss": format_bytes(memory.peak),
        "peak_under_limit": memory.peak < limit,
        "score_seconds": score_s,
        "throughput_mib_s": size * 1024 / score_s,
        "crps_lead0": float(summary["crps"].isel(variable=0, lead_time=0)),
        "spread_skill_lead0": float(summary["spread_skill"].isel(variable=0, lead_time=0)),
        "rank_histogram_total": int(histogram.sum()),
    }
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
