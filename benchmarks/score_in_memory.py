"""Scoring a run's ensembles in memory against scoring them through dask, side by side.

``forecast run`` scores six small ensembles (the seeds, the physics ensemble, three
generated ones, climatology: a few MB each). ``score_ensemble`` scores a variable in
memory when it is smaller than ``summary.IN_MEMORY_BYTES``; with the limit at 0 it
builds and runs the dask graph as it does for stores larger than memory. This times
both on the same inputs, alternating (lazy, in memory, lazy, in memory, ...), and checks
that the tables agree.

    scripts/in-env python benchmarks/score_in_memory.py --run runs/world --repeats 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.run import run_record, score_all
from forecast.scoring import summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/world"), help="forecast run folder")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    settings, record = run_record(args.run)
    ensembles = {p.stem: p for p in sorted((args.run / "ensembles").glob("*.zarr"))}
    operational = args.run / "prepared" / "world-operational.zarr"
    limit = summary.IN_MEMORY_BYTES
    seconds: dict[str, list[float]] = {"lazy (dask)": [], "in memory": []}
    tables = {}
    for _ in range(args.repeats):
        for name, bytes_ in (("lazy (dask)", 0), ("in memory", limit)):
            summary.IN_MEMORY_BYTES = bytes_
            start = time.perf_counter()
            tables[name] = score_all(operational, ensembles, record["inits"], settings)
            seconds[name].append(time.perf_counter() - start)
    summary.IN_MEMORY_BYTES = limit
    for name, times in seconds.items():
        print(f"{name:12s} " + " ".join(f"{t:6.1f} s" for t in times))
    worst = 0.0
    for ensemble, lazy in tables["lazy (dask)"].items():
        eager = tables["in memory"][ensemble]
        xr.testing.assert_equal(lazy["rank_histogram"], eager["rank_histogram"])
        for variable in lazy.data_vars:
            a, b = lazy[variable].values, eager[variable].values
            if a.dtype.kind == "f" and np.isfinite(a).any():
                scale = np.nanmax(np.abs(a)) or 1.0
                worst = max(worst, float(np.nanmax(np.abs(a - b)) / scale))
    print(f"tables agree: rank histograms equal, largest other difference {worst:.1e} (relative)")


if __name__ == "__main__":
    main()
