"""``forecast prepare``: catalog entries -> aligned, normalised zarr stores."""

from __future__ import annotations

import argparse
import time

from .options import DEFAULT_OUT, add_catalog, add_quiet, add_scheduler, output_path

NAME = "prepare"
HELP = "raw grids -> aligned, normalised zarr stores"
DESCRIPTION = (
    "Read catalog entries (zarr, netCDF, GRIB), bring them to the project's conventions "
    "(lat ascending, lon 0..360, short variable names, standard units), regrid, align "
    "ensemble forecasts with their reanalysis at valid time, compute the day-of-year "
    "climatology and normalisation statistics, and write one zarr v3 store per entry: "
    "OUT/ENTRY.zarr. An interrupted run resumes where it stopped when run again; an "
    "unfinished store is kept at OUT/ENTRY.zarr.partial and never mistaken for a finished one."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "entries",
        nargs="*",
        default=["world"],
        metavar="ENTRY",
        help="catalog entry names, or a family prefix: 'world' (the default) prepares "
        "world-truth, world-reforecast and world-operational",
    )
    add_catalog(parser)
    parser.add_argument(
        "--out",
        type=output_path,
        default=DEFAULT_OUT,
        help=f"output folder (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--grid",
        type=float,
        default=None,
        metavar="DEGREES",
        help="regrid conservatively to a global grid of this spacing (default: the entry's 'grid', else none)",
    )
    parser.add_argument(
        "--chunk-mb",
        type=float,
        default=None,
        metavar="MB",
        help="target size of a stored chunk: whole fields, then members, lead times and "
        "times grow while under it (default: 4; see docs/cluster.md for 0.25-degree data)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a store made from other inputs"
    )
    add_scheduler(parser)
    add_quiet(parser, "no progress bars")


def run(args: argparse.Namespace) -> int:
    from pipelines import load_catalog
    from pipelines.cluster import dask_scheduler, local_input_bytes
    from pipelines.prepare import prepare_entry

    catalog = load_catalog(args.catalog)
    names = [n for name in args.entries for n in catalog.expand(name)]  # fails early on a bad name
    entries = [catalog[n] for n in names]
    entries += [catalog[e.truth] for e in entries if e.truth]
    # the embedded world is small, and made by its reader: no files to measure beforehand
    inputs = {e.path for e in entries if e.format != "world"}
    with dask_scheduler(args.scheduler, local_input_bytes(inputs)) as where:
        if not args.quiet:
            print(f"computing on {where}", flush=True)
        for name in names:
            start = time.perf_counter()
            path = prepare_entry(
                name,
                catalog,
                args.out,
                resolution=args.grid,
                overwrite=args.overwrite,
                progress=not args.quiet,
                chunk_mb=args.chunk_mb,
            )
            print(f"{name}: {path} ({time.perf_counter() - start:.1f} s)")
    return 0
