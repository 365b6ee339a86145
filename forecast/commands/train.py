"""``forecast train``: a generative model trained on a prepared forecast store."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..registry import MODEL_NAMES, REGISTRY
from .options import DEFAULT_OUT, add_device, add_quiet, first_process, output_path

NAME = "train"
HELP = "train a generative ensemble model on a prepared forecast store"
DESCRIPTION = (
    "Train one of the models on a prepared forecast store: "
    + "; ".join(f"{kind.display_name} ({kind.description})" for kind in REGISTRY.values())
    + ". The diffusion models are EDM with a spherical UNet with global attention at its "
    "coarse levels, given the seeds' mean and spread and context fields. AdamW, cosine learning rate, "
    "EMA, gradient clipping, bf16 on CUDA. Writes OUT/model.safetensors and "
    "OUT/config.json; run again to resume."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=MODEL_NAMES, default="seeds-gee")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"prepared forecast store (default: {DEFAULT_OUT / 'world-reforecast.zarr'})",
    )
    parser.add_argument(
        "--out", type=output_path, default=None, help="checkpoint folder (default: runs/MODEL)"
    )
    parser.add_argument(
        "--budget",
        choices=["tiny", "quick", "full"],
        default="quick",
        help="tiny: seconds (tests); quick: minutes on a laptop CPU (default); full: for a GPU",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="override the budget's number of steps"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="override the budget's batch size"
    )
    parser.add_argument(
        "--truth-fraction",
        type=float,
        default=None,
        metavar="F",
        help="seeds-gpp and vae-crps: share of training targets taken from the reanalysis "
        "instead of an ensemble member, which makes the model a post-processor (default: 1 "
        "for seeds-gpp, the best on the world; 0 for vae-crps, an emulator)",
    )
    parser.add_argument(
        "--context",
        default=None,
        metavar="NAMES",
        help="fields the network is given beside the seeds' mean and spread, comma-separated: "
        "position (the point on the sphere), time (year progress and local solar time at "
        "valid time), climatology (the climatological spread there), static (the store's static "
        "fields: orography, land-sea mask, named in the catalog), or none (default: all)",
    )
    parser.add_argument(
        "--activation-checkpointing",
        action="store_true",
        help="recompute activations in the backward pass: less memory for more time "
        "(large grids on a GPU)",
    )
    parser.add_argument(
        "--no-quantile-map",
        dest="quantile_map",
        action="store_false",
        help="do not fit the quantile map that puts generated precipitation on the training "
        "targets' distribution after the last step (by default it is fitted on 6 training "
        "init times and applied by forecast generate)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--read",
        choices=["auto", "memory", "stream"],
        default="auto",
        help="memory: the store's members in RAM (fast for small stores); stream: each "
        "sample read from the store when needed, memory bounded by its chunks; auto "
        "(default): memory up to 2 GiB of members, else stream",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="with streamed reading: worker processes reading and preparing batches ahead "
        "of the training step (default 0: in this process); the batches do not depend on it",
    )
    add_device(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from ..context import parse_context
    from ..train import budget_config, train

    config = budget_config(
        args.model,
        args.budget,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        truth_fraction=args.truth_fraction,
        context=parse_context(args.context),
        activation_checkpointing=args.activation_checkpointing or None,
        quantile_map=args.quantile_map,
    )
    data = args.data or DEFAULT_OUT / "world-reforecast.zarr"
    out = args.out or Path("runs") / args.model
    start = time.perf_counter()
    train(
        data,
        out,
        config,
        device=args.device,
        progress=not args.quiet,
        reading=args.read,
        workers=args.workers,
    )
    if first_process():
        print(f"{args.model}: checkpoint {out} ({time.perf_counter() - start:.0f} s)")
    return 0
