"""``forecast generate``: K seed members -> N generated members per init time, into zarr."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..registry import SAMPLERS
from .options import DEFAULT_OUT, add_device, add_quiet, first_process, output_path

NAME = "generate"
HELP = "K seed members -> N generated members per init time, into zarr"
DESCRIPTION = (
    "For each init time of the source ensemble take its first K members as seeds and draw N "
    "members with the checkpoint's model, in physical units, into a zarr store (resumable: "
    "run again after an interruption). The store carries the truth and climatology of the "
    "source, so 'forecast score --forecast OUT' works on it directly."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("runs/seeds-gee"), help="checkpoint folder"
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=DEFAULT_OUT / "world-operational.zarr",
        help="prepared forecast store giving the seeds (default: the world's operational ensemble)",
    )
    parser.add_argument("--members", type=int, default=64, help="members to generate (default 64)")
    parser.add_argument("--seeds", type=int, default=2, help="seed members K (default 2)")
    parser.add_argument(
        "--init", default=None, help="comma-separated init-time indices (default: all)"
    )
    parser.add_argument(
        "--leads",
        default=None,
        help="comma-separated lead times to generate, e.g. 24h,72h,5D (default: all)",
    )
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default=None,
        help="diffusion sampler, from diffusers' EDM DPM-Solver++ scheduler: dpmsolver++ "
        "(the probability-flow ODE, deterministic given the starting noise) or "
        "sde-dpmsolver++ (its stochastic counterpart, fresh noise at every step) "
        "(default: the checkpoint's, dpmsolver++)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="diffusion sampler steps, one network evaluation each (default: the "
        "checkpoint's: 16 for checkpoints made now); the VAE needs none",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="samples per network call (default: 64 on a GPU; on a CPU 32 at 32x64, 8 at "
        "64x128: about 65k grid points); the members do not depend on it",
    )
    parser.add_argument(
        "--no-quantile-map",
        dest="quantile_map",
        action="store_false",
        help="leave generated precipitation as the network makes it (by default the "
        "checkpoint's quantile map, where it has one, puts it on the distribution of its "
        "training targets)",
    )
    parser.add_argument("--seed", type=int, default=0)
    add_device(parser)
    parser.add_argument("--out", type=output_path, default=Path("runs/ensemble.zarr"))
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an output made from other inputs"
    )
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from pipelines.errors import ConfigError

    from ..generate import generate

    try:
        inits = [int(i) for i in args.init.split(",")] if args.init else None
    except ValueError:
        raise ConfigError(f"--init takes comma-separated integers, got {args.init!r}") from None
    start = time.perf_counter()
    path = generate(
        args.checkpoint,
        args.source,
        args.out,
        n_members=args.members,
        n_seeds=args.seeds,
        inits=inits,
        leads=args.leads.split(",") if args.leads else None,
        steps=args.steps,
        sampler=args.sampler,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
        overwrite=args.overwrite,
        progress=not args.quiet,
        quantile_mapping=args.quantile_map,
    )
    if first_process():
        print(f"ensemble: {path} ({time.perf_counter() - start:.0f} s)")
    return 0
