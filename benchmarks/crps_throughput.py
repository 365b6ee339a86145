"""CRPS throughput: this project's kernel against properscoring and scoringrules, and the
torch path that the VAE loss uses.

numpy section: every library scores the same ``--points`` x M members (standard normal,
a fraction ``--nan`` of the members missing) in one call, timed as the minimum of
``--repeat`` calls after an untimed warm-up call (JIT compilation, first-touch page
faults). The project's kernel is timed on one thread and on every core, separately;
properscoring and scoringrules run on one thread. "np.sort rows" is numpy's sort of the
same rows alone: the floor under any kernel that sorts whole rows (properscoring does).

torch section (``--torch``): the CRPS of M members per point, forward and backward, on
the CPU (and on CUDA when there is one), by batch size.

    scripts/in-env python benchmarks/crps_throughput.py --members 50 512 2048 --torch
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import properscoring
import scoringrules

from forecast.scoring.kernels import crps_ensemble
from forecast.scoring.numba_kernels import crps_rows

Kernel = Callable[[np.ndarray, np.ndarray], object]


def contenders(members: int) -> dict[str, Kernel]:
    kernels: dict[str, Kernel] = {
        "forecast nrg, 1 thread": lambda f, o: crps_rows(f, o, fair=False, threads=1),
        "forecast fair, 1 thread": lambda f, o: crps_rows(f, o, fair=True, threads=1),
        f"forecast nrg, {os.cpu_count()} threads": lambda f, o: crps_ensemble(f, o, "nrg"),
        f"forecast fair, {os.cpu_count()} threads": lambda f, o: crps_ensemble(f, o, "fair"),
        "properscoring (nrg)": lambda f, o: properscoring.crps_ensemble(o, f),
        "scoringrules pwm (= fair, sorts)": lambda f, o: scoringrules.crps_ensemble(
            o, f, estimator="pwm", backend="numba"
        ),
        "np.sort rows (no score)": lambda f, o: np.sort(f, axis=-1),
    }
    if members <= 64:  # O(M^2): minutes per call beyond
        kernels["scoringrules nrg (O(M^2))"] = lambda f, o: scoringrules.crps_ensemble(
            o, f, estimator="nrg", backend="numba"
        )
    return kernels


def best_of(kernel: Kernel, args: tuple, repeat: int) -> float:
    kernel(*args)  # warm-up: compilation, page faults
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        kernel(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def numpy_section(args: argparse.Namespace) -> list[dict]:
    results = []
    for dtype in args.dtypes:
        for members in args.members:
            rng = np.random.default_rng(members)
            forecast = rng.standard_normal((args.points, members)).astype(dtype)
            forecast[rng.random(forecast.shape) < args.nan] = np.nan
            obs = rng.standard_normal(args.points).astype(dtype)
            timings = {
                name: best_of(kernel, (forecast, obs), args.repeat)
                for name, kernel in contenders(members).items()
            }
            reference = timings["properscoring (nrg)"]
            for name, seconds in timings.items():
                row = {
                    "dtype": dtype,
                    "members": members,
                    "library": name,
                    "seconds": seconds,
                    "us_per_point": seconds / args.points * 1e6,
                    "speed_vs_properscoring": reference / seconds,
                }
                results.append(row)
                print(
                    f"{dtype:7s} M={members:5d}  {name:34s} {seconds:8.3f} s "
                    f"{row['us_per_point']:8.2f} us/point  x{row['speed_vs_properscoring']:5.2f}",
                    flush=True,
                )
    return results


def torch_section(args: argparse.Namespace) -> list[dict]:
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    for device in devices:
        for members in (4, 16, 64):
            for points in args.torch_points:
                generator = torch.Generator().manual_seed(points)
                forecast = torch.randn(points, members, generator=generator).to(device)
                obs = torch.randn(points, generator=generator).to(device)
                forecast.requires_grad_(True)

                def step(forecast=forecast, obs=obs, device=device):
                    forecast.grad = None
                    crps_ensemble(forecast, obs, "fair").mean().backward()
                    if device == "cuda":
                        torch.cuda.synchronize()

                seconds = best_of(lambda: step(), (), args.repeat)
                results.append(
                    {
                        "device": device,
                        "members": members,
                        "points": points,
                        "seconds": seconds,
                        "points_per_s": points / seconds,
                    }
                )
                print(
                    f"torch {device:4s} M={members:3d} batch {points:8d} points: "
                    f"{seconds * 1e3:9.2f} ms forward+backward  {points / seconds:12.3e} points/s",
                    flush=True,
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--members", type=int, nargs="+", default=[50, 512, 2048])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--nan", type=float, default=0.0, help="fraction of members missing")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--torch", action="store_true", help="also time the torch path")
    parser.add_argument(
        "--torch-points", type=int, nargs="+", default=[4096, 65536, 1048576], metavar="N"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "out" / "crps_throughput.json"
    )
    args = parser.parse_args()
    report = {
        "machine": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "points": args.points,
        "nan": args.nan,
        "numpy": numpy_section(args),
    }
    if args.torch:
        report["torch"] = torch_section(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
