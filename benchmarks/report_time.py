"""Seconds to write a ``forecast run`` report again from the run folder's score files.

Run it against two checkouts alternately to compare them (the script is the same; the
``forecast`` it imports is the checkout's):

    git worktree add /tmp/before 2fdccd2
    for i in 1 2; do
      PYTHONPATH=/tmp/before scripts/in-env python benchmarks/report_time.py --run runs/world
      PYTHONPATH=$PWD scripts/in-env python benchmarks/report_time.py --run runs/world
    done
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import xarray as xr

import forecast
from forecast.registry import MODEL_NAMES
from forecast.run import run_record
from forecast.run_report import make_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/world"), help="forecast run folder")
    args = parser.parse_args()
    settings, record = run_record(args.run)
    scores = {
        path.stem.removeprefix("scores_").replace("_", " "): xr.load_dataset(path)
        for path in sorted((args.run / "report").glob("scores_*.nc"))
    }
    ensembles = {m: args.run / "ensembles" / f"{m}.zarr" for m in MODEL_NAMES}
    costs = {name: "-" for name in scores}
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        make_report(
            Path(out),
            scores,
            ensembles,
            args.run / "prepared" / "world-operational.zarr",
            record["inits"],
            settings,
            0,
            costs,
            record["seconds"],
        )
        seconds = time.perf_counter() - start
    print(f"report: {seconds:.1f} s ({Path(forecast.__file__).parent.parent})")


if __name__ == "__main__":
    main()
