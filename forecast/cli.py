"""The ``forecast`` command line: one subcommand per job of the user."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pipelines import DataError, load_catalog
from pipelines.errors import describe

DEFAULT_OUT = Path("data/prepared")


def _add_catalog(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        type=Path,
        default=None,
        help="catalog file naming the datasets (default: data_catalog.yaml at the repository root)",
    )


def _first_process() -> bool:
    """False in the other processes of a torchrun job: one summary line, not one per rank."""
    return os.environ.get("RANK", "0") == "0"


def _add_scheduler(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="where dask computes: a dask.distributed scheduler address (tcp://host:8786), "
        "'local' (a local cluster sized to this machine, workers limited to 80%% of its RAM) "
        "or 'threads' (no cluster) (default: $FORECAST_SCHEDULER, else threads for local "
        "inputs under 1 GiB and local for larger or remote ones)",
    )


def _prepare(args: argparse.Namespace) -> int:
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
                grid=args.grid,
                overwrite=args.overwrite,
                progress=not args.quiet,
                chunk_mb=args.chunk_mb,
            )
            print(f"{name}: {path} ({time.perf_counter() - start:.1f} s)")
    return 0


def _score(args: argparse.Namespace) -> int:
    from pipelines.cluster import dask_scheduler, local_input_bytes

    from .score_command import run_score

    inputs = [args.forecast]
    if args.truth:
        inputs.append(load_catalog(args.catalog)[args.truth].path)
    with dask_scheduler(args.scheduler, local_input_bytes(inputs)) as where:
        if not args.quiet:
            print(f"computing on {where}", flush=True)
        _, table = run_score(
            args.forecast,
            args.truth,
            args.climatology,
            args.out,
            catalog_path=args.catalog,
            region=args.region,
            seed=args.seed,
            progress=not args.quiet,
        )
    print(table)
    print(f"scores: {args.out} and {args.out.with_suffix('.json')}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .train import budget_config, train

    config = budget_config(
        args.model,
        args.budget,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        truth_fraction=args.truth_fraction,
    )
    data = args.data or DEFAULT_OUT / "world-reforecast.zarr"
    out = args.out or Path("runs") / args.model
    start = time.perf_counter()
    train(data, out, config, device=args.device, progress=not args.quiet)
    if _first_process():
        print(f"{args.model}: checkpoint {out} ({time.perf_counter() - start:.0f} s)")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from .generate import generate

    inits = [int(i) for i in args.init.split(",")] if args.init else None
    start = time.perf_counter()
    path = generate(
        args.checkpoint,
        args.source,
        args.out,
        members=args.members,
        seeds=args.seeds,
        inits=inits,
        leads=args.leads.split(",") if args.leads else None,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    if _first_process():
        print(f"ensemble: {path} ({time.perf_counter() - start:.0f} s)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .run import DEFAULT, QUICK, run

    settings = QUICK if args.quick else DEFAULT
    out = args.out or Path("runs/world-quick" if args.quick else "runs/world")
    start = time.perf_counter()
    catalog = load_catalog(args.catalog)
    report = run(settings, out, catalog=catalog, device=args.device, progress=not args.quiet)
    print(f"report: {report} ({time.perf_counter() - start:.0f} s)")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from .plot_command import plot_files

    written = plot_files(
        args.out,
        ensemble=args.ensemble,
        scores=args.scores,
        variable=args.variable,
        init=args.init,
        lead=args.lead,
        members=args.members,
    )
    for path in written:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forecast",
        description=(
            "Probabilistic weather-forecast ensemble emulator. Prepare data from the catalog, "
            "train generative models, generate ensembles, score them."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is being done")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prepare = commands.add_parser(
        "prepare",
        help="raw grids -> aligned, normalised zarr stores",
        description=(
            "Read catalog entries (zarr, netCDF, GRIB), bring them to the project's conventions "
            "(lat ascending, lon 0..360, short variable names, standard units), regrid, align "
            "ensemble forecasts with their reanalysis at valid time, compute the day-of-year "
            "climatology and normalisation statistics, and write one zarr v3 store per entry: "
            "OUT/ENTRY.zarr. An interrupted run resumes where it stopped when run again; an "
            "unfinished store is kept at OUT/ENTRY.zarr.partial and never mistaken for a finished one."
        ),
    )
    prepare.add_argument(
        "entries",
        nargs="*",
        default=["world"],
        metavar="ENTRY",
        help="catalog entry names, or a family prefix: 'world' (the default) prepares "
        "world-truth, world-reforecast and world-operational",
    )
    _add_catalog(prepare)
    prepare.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    prepare.add_argument(
        "--grid",
        type=float,
        default=None,
        metavar="DEGREES",
        help="regrid conservatively to a global grid of this spacing (default: the entry's 'grid', else none)",
    )
    prepare.add_argument(
        "--chunk-mb",
        type=float,
        default=None,
        metavar="MB",
        help="target size of a stored chunk: whole fields, then members, lead times and "
        "times grow while under it (default: 4; see docs/cluster.md for 0.25-degree data)",
    )
    prepare.add_argument(
        "--overwrite", action="store_true", help="replace a store made from other inputs"
    )
    _add_scheduler(prepare)
    prepare.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    prepare.set_defaults(handler=_prepare)

    train = commands.add_parser(
        "train",
        help="train a generative ensemble model on a prepared forecast store",
        description=(
            "Train SEEDS-GEE (emulate more members of the same ensemble from K seeds), SEEDS-GPP "
            "(targets mix reanalysis and members: a bias-corrected ensemble), both EDM diffusion "
            "with a spherical UNet, or VAE-CRPS (a conditional VAE trained with ensemble CRPS + KL, "
            "FuXi-ENS style: one decoder pass per member) on a prepared forecast store. AdamW, "
            "cosine learning rate, EMA, gradient clipping, bf16 on CUDA. Writes "
            "OUT/model.safetensors and OUT/config.json; run again to resume."
        ),
    )
    train.add_argument(
        "--model", choices=["seeds-gee", "seeds-gpp", "vae-crps"], default="seeds-gee"
    )
    train.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"prepared forecast store (default: {DEFAULT_OUT / 'world-reforecast.zarr'})",
    )
    train.add_argument(
        "--out", type=Path, default=None, help="checkpoint folder (default: runs/MODEL)"
    )
    train.add_argument(
        "--budget",
        choices=["tiny", "quick", "full"],
        default="quick",
        help="tiny: seconds (tests); quick: minutes on a laptop CPU (default); full: for a GPU",
    )
    train.add_argument(
        "--steps", type=int, default=None, help="override the budget's number of steps"
    )
    train.add_argument(
        "--batch-size", type=int, default=None, help="override the budget's batch size"
    )
    train.add_argument(
        "--truth-fraction",
        type=float,
        default=None,
        metavar="F",
        help="seeds-gpp only: share of training targets taken from the reanalysis instead "
        "of an ensemble member (default 1: pure post-processing, the best on the world)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="cpu", help="cpu or cuda")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)

    gen = commands.add_parser(
        "generate",
        help="K seed members -> N generated members per init time, into zarr",
        description=(
            "For each init time of the source ensemble take its first K members as seeds and draw N "
            "members with the checkpoint's model, in physical units, into a zarr store (resumable: "
            "run again after an interruption). The store carries the truth and climatology of the "
            "source, so 'forecast score --forecast OUT' works on it directly."
        ),
    )
    gen.add_argument(
        "--checkpoint", type=Path, default=Path("runs/seeds-gee"), help="checkpoint folder"
    )
    gen.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=DEFAULT_OUT / "world-operational.zarr",
        help="prepared forecast store giving the seeds (default: the world's operational ensemble)",
    )
    gen.add_argument("--members", type=int, default=64, help="members to generate (default 64)")
    gen.add_argument("--seeds", type=int, default=2, help="seed members K (default 2)")
    gen.add_argument(
        "--init", default=None, help="comma-separated init-time indices (default: all)"
    )
    gen.add_argument(
        "--leads",
        default=None,
        help="comma-separated lead times to generate, e.g. 24h,72h,5D (default: all)",
    )
    gen.add_argument(
        "--steps",
        type=int,
        default=None,
        help="diffusion sampler steps (default: the checkpoint's, 32); the VAE needs none",
    )
    gen.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="samples per network call (default: 64 on a GPU; on a CPU 32 at 32x64, 8 at "
        "64x128: about 65k grid points); the members do not depend on it",
    )
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--device", default="cpu", help="cpu or cuda")
    gen.add_argument("--out", type=Path, default=Path("runs/ensemble.zarr"))
    gen.add_argument(
        "--overwrite", action="store_true", help="replace an output made from other inputs"
    )
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(handler=_generate)

    score = commands.add_parser(
        "score",
        help="score an ensemble against the truth: CRPS, reliability, extremes",
        description=(
            "Score an ensemble (zarr or netCDF with init_time, lead_time, member, lat, lon) against "
            "a reanalysis at valid time: CRPS (fair and standard), ensemble-mean RMSE, spread, "
            "spread-skill ratio, rank histogram and its flatness, and for extreme events "
            "(+-2 and +-3 sigma anomalies, 5th/95th climatological percentiles) the Brier score, "
            "Brier skill score and ROC area. Averages use cell-area weights over --region. "
            "Writes OUT (netCDF, or zarr if OUT ends in .zarr) and OUT with a .json suffix, and "
            "prints a table per variable and lead time."
        ),
    )
    score.add_argument(
        "--forecast",
        type=Path,
        default=DEFAULT_OUT / "world-operational.zarr",
        metavar="ENS",
        help="the ensemble to score (default: the prepared world's operational ensemble, "
        f"{DEFAULT_OUT / 'world-operational.zarr'}, made by 'forecast prepare')",
    )
    score.add_argument(
        "--truth",
        default=None,
        metavar="ENTRY",
        help="catalog entry of the reanalysis to verify against (default: the /truth group of a prepared forecast store)",
    )
    score.add_argument(
        "--climatology",
        type=Path,
        default=None,
        metavar="STORE",
        help="prepared reanalysis store whose climatology defines extreme events "
        "(default: the forecast store's /climatology, else computed from --truth)",
    )
    _add_catalog(score)
    score.add_argument(
        "--out", type=Path, default=Path("scores.nc"), help="output file (default: scores.nc)"
    )
    score.add_argument(
        "--region",
        default="global",
        help="global, tropics, nh-extratropics, sh-extratropics, or a box 'lat_min,lat_max,lon_min,lon_max'",
    )
    score.add_argument(
        "--seed", type=int, default=0, help="seed for breaking rank ties (default: 0)"
    )
    _add_scheduler(score)
    score.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    score.set_defaults(handler=_score)

    run = commands.add_parser(
        "run",
        help="the whole job on the embedded world, ending in a report",
        description=(
            "Build the embedded world, prepare it, train SEEDS-GEE, SEEDS-GPP and VAE-CRPS on its "
            "reforecast, generate ensembles from 2 seed members of held-out operational forecasts, "
            "score them with the seeds, the 31-member physics ensemble and climatology, and write "
            "OUT/report/report.md with maps and score figures. Finished steps are reused when run "
            "again. About 12 minutes on 2 CPU cores, building the world included; --quick: a tiny world in under 2 minutes."
        ),
    )
    run.add_argument("--quick", action="store_true", help="tiny world and budgets (tests, demos)")
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run folder (default: runs/world or runs/world-quick)",
    )
    run.add_argument("--device", default="cpu", help="cpu or cuda")
    _add_catalog(run)
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    run.set_defaults(handler=_run)

    plot = commands.add_parser(
        "plot",
        help="maps of an ensemble and figures of score files",
        description=(
            "Maps (cartopy, offline coastlines) of one forecast of an ensemble store: the truth "
            "when the store carries it, members, ensemble mean and spread, and the probability of "
            "a +2 sigma anomaly next to what happened; and, from score files written by "
            "'forecast score', scores against lead time, rank histograms and reliability diagrams "
            "(one line per file). With no --ensemble and no --scores: the SEEDS-GEE ensemble and "
            "the score files of 'forecast run' (runs/world)."
        ),
    )
    plot.add_argument("--ensemble", type=Path, default=None, metavar="ENS", help="ensemble store")
    plot.add_argument(
        "--scores", type=Path, nargs="+", default=None, metavar="FILE", help="score files"
    )
    plot.add_argument(
        "--variable", default=None, help="variable to draw (default: z500, else the first)"
    )
    plot.add_argument("--init", type=int, default=0, help="init-time index (default 0)")
    plot.add_argument("--lead", default=None, help="lead time, e.g. 120h (default: the last)")
    plot.add_argument("--members", type=int, default=4, help="members to map (default 4)")
    plot.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNGs")
    plot.set_defaults(handler=_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except (DataError, ValueError) as error:
        print(f"forecast {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"forecast {args.command}: interrupted; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except Exception as error:
        # A failure no check foresaw is a bug of ours: one line, and the traceback on request.
        if args.verbose:
            raise
        print(
            f"forecast {args.command}: internal error: {describe(error)}; this is a bug in "
            "forecast, please report it (run again as forecast --verbose ... for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
