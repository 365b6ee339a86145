"""Energy and variogram scores: this project's kernels against scoringrules, same arrays.

    scripts/in-env python benchmarks/multivariate_scores.py

Cases of M members on D points, as a region or a coarse global grid gives them; min of 3
runs each, one process. Prints milliseconds per case and the largest relative difference
between the two libraries' scores.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import scoringrules

from forecast.scoring.multivariate import energy_score_kernel, variogram_score_kernel


def best_of(func, repeats: int = 3) -> tuple[float, np.ndarray]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "out" / "multivariate_scores.json"
    )
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    settings = [
        ("energy", 32, 2048),  # the world's 32 x 64 grid, 32 members
        ("energy", 64, 2048),
        ("variogram", 32, 100),  # a 10 x 10-point region
        ("variogram", 32, 400),
    ]
    # warm scoringrules' numba kernels outside the timings
    scoringrules.es_ensemble(rng.normal(size=(2, 3)), rng.normal(size=(2, 4, 3)))
    scoringrules.vs_ensemble(rng.normal(size=(2, 3)), rng.normal(size=(2, 4, 3)))
    for score, members, points in settings:
        fct = rng.normal(size=(args.cases, members, points))
        obs = rng.normal(size=(args.cases, points))
        if score == "energy":
            ours_s, ours = best_of(partial(energy_score_kernel, fct, obs, "nrg"))
            ref_s, ref = best_of(partial(scoringrules.es_ensemble, obs, fct))
        else:
            ours_s, ours = best_of(partial(variogram_score_kernel, fct, obs))
            ref_s, ref = best_of(partial(scoringrules.vs_ensemble, obs, fct))
        row = {
            "score": score,
            "members": members,
            "points": points,
            "ms_per_case_forecast": 1000 * ours_s / args.cases,
            "ms_per_case_scoringrules": 1000 * ref_s / args.cases,
            "max_relative_difference": float(np.max(np.abs(ours / ref - 1))),
        }
        rows.append(row)
        print(
            f"{score:9s} M={members:3d} D={points:5d}: forecast {row['ms_per_case_forecast']:8.2f} ms, "
            f"scoringrules {row['ms_per_case_scoringrules']:8.2f} ms per case; "
            f"max relative difference {row['max_relative_difference']:.1e}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
