"""``forecast run``: the whole job on the embedded world, ending in a report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .options import add_catalog, add_device, add_quiet, output_path

NAME = "run"
HELP = "the whole job on the embedded world, ending in a report"
DESCRIPTION = (
    "Build the embedded world, prepare it, train SEEDS-GEE, SEEDS-GPP and VAE-CRPS on its "
    "reforecast, generate ensembles from 2 seed members of held-out operational forecasts, "
    "score them with the seeds, the 31-member physics ensemble and climatology, and write "
    "OUT/report/report.md with maps and score figures. Finished steps are reused when run "
    "again. About 12 minutes on 2 CPU cores, building the world included; --quick: a tiny "
    "world in under 2 minutes."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="tiny world and budgets (tests, demos)"
    )
    parser.add_argument(
        "--out",
        type=output_path,
        default=None,
        help="run folder (default: runs/world or runs/world-quick)",
    )
    add_device(parser)
    add_catalog(parser)
    add_quiet(parser, "no progress bars")


def run(args: argparse.Namespace) -> int:
    from pipelines import load_catalog

    from ..run import DEFAULT, QUICK, run

    settings = QUICK if args.quick else DEFAULT
    out = args.out or Path("runs/world-quick" if args.quick else "runs/world")
    start = time.perf_counter()
    catalog = load_catalog(args.catalog)
    report = run(settings, out, catalog=catalog, device=args.device, progress=not args.quiet)
    print(f"report: {report} ({time.perf_counter() - start:.0f} s)")
    return 0
