"""CRPS throughput: this project's kernel against scoringrules (numba) and properscoring.

All libraries run side by side in one process on the same data, in batches of
points so memory stays bounded; JIT compilation is excluded (a warm-up call first).
A library slower than ``--budget`` seconds on one batch is timed on the batches
done so far and extrapolated to all points (marked ``*``). The project's kernel
uses every core (threads); the others run on one.

    scripts/in-env python benchmarks/crps_throughput.py --points 1000000 --members 50 512
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import properscoring
import scoringrules

from forecast.scoring.kernels import crps_ensemble
from forecast.scoring.numba_kernels import crps_rows

Kernel = Callable[[np.ndarray, np.ndarray], np.ndarray]


def contenders() -> dict[str, Kernel]:
    return {
        "forecast nrg (sort, numpy)": lambda f, o: crps_ensemble(f, o, estimator="nrg"),
        "forecast fair (sort, numpy)": lambda f, o: crps_ensemble(f, o, estimator="fair"),
        "forecast fair, one thread": lambda f, o: crps_rows(f, o, fair=True, threads=1),
        "scoringrules nrg (numba)": lambda f, o: scoringrules.crps_ensemble(
            o, f, estimator="nrg", backend="numba"
        ),
        "scoringrules fair (numba)": lambda f, o: scoringrules.crps_ensemble(
            o, f, estimator="fair", backend="numba"
        ),
        "scoringrules pwm = fair, sorted (numba)": lambda f, o: scoringrules.crps_ensemble(
            o, f, estimator="pwm", backend="numba"
        ),
        "properscoring (nrg)": lambda f, o: properscoring.crps_ensemble(o, f),
    }


def time_all(
    kernels: dict[str, Kernel], points: int, members: int, batch: int, budget: float, seed: int
) -> dict:
    """Seconds per library over ``points`` points; every library sees the same batches."""
    rng = np.random.default_rng(seed)
    batches = [min(batch, points - start) for start in range(0, points, batch)]
    first = (rng.standard_normal((batches[0], members)), rng.standard_normal(batches[0]))
    for kernel in kernels.values():  # JIT compilation and first-touch page faults, untimed
        kernel(*first)
    totals = dict.fromkeys(kernels, 0.0)
    done = dict.fromkeys(kernels, 0)
    stopped: set[str] = set()
    for index, n in enumerate(batches):
        forecast, obs = (
            first if index == 0 else (rng.standard_normal((n, members)), rng.standard_normal(n))
        )
        for name, kernel in kernels.items():
            if name in stopped:
                continue
            start = time.perf_counter()
            kernel(forecast, obs)
            elapsed = time.perf_counter() - start
            totals[name] += elapsed
            done[name] += n
            if elapsed > budget:
                stopped.add(name)
    return {name: (totals[name] * points / done[name], done[name] < points) for name in kernels}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, nargs="+", default=[50, 512])
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument(
        "--budget", type=float, default=20.0, help="seconds per batch before extrapolating"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "out" / "crps_throughput.json"
    )
    args = parser.parse_args()
    results = []
    for members in args.members:
        timings = time_all(
            contenders(), args.points, members, args.batch, args.budget, seed=members
        )
        for name, (seconds, extrapolated) in timings.items():
            results.append(
                {
                    "members": members,
                    "library": name,
                    "seconds": seconds,
                    "points_per_s": args.points / seconds,
                    "extrapolated": extrapolated,
                }
            )
            mark = "*" if extrapolated else ""
            print(
                f"M={members:4d}  {name:42s} {seconds:9.2f} s{mark:1s}  {args.points / seconds:12.0f} points/s",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": platform.processor() or platform.machine(),
                "points": args.points,
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
