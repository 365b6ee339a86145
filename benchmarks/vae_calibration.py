"""VAE-CRPS variants on the embedded world: train one (quick budget), then score it with
``seeds_world.evaluate`` (K seeds -> N members on held-out inits, next to the seeds, the
31-member physics ensemble and the K-seed bound).

    # the world without model error (data_catalog.yaml with model_error: false)
    scripts/in-env forecast prepare world --catalog perfect.yaml --out perfect
    scripts/in-env python benchmarks/vae_calibration.py --data perfect --draws prior --out runs/vae/prior
    scripts/in-env python benchmarks/vae_calibration.py --data perfect --draws posterior --out runs/vae/posterior
    # the world with model error, trained on the reanalysis (post-processing)
    scripts/in-env forecast prepare world --out prepared
    scripts/in-env python benchmarks/vae_calibration.py --data prepared --truth-fraction 1 --out runs/vae/gpp

Training time is printed (and written to OUT/train.json): compare it with the diffusion
models' quick budget trained the same way (``--model seeds-gee``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from seeds_world import LEADS_H, evaluate

from forecast.context import parse_context
from forecast.diffusion import EDMConfig
from forecast.registry import VAESettings
from forecast.train import budget_config, train


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder of the prepared world")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="vae-crps", help="vae-crps, or a diffusion model")
    parser.add_argument("--draws", default="prior", choices=["prior", "posterior", "both"])
    parser.add_argument("--latent-samples", type=int, default=4)
    parser.add_argument(
        "--estimator", default="almost-fair", choices=["fair", "nrg", "almost-fair"]
    )
    parser.add_argument("--alpha", type=float, default=0.95)
    parser.add_argument("--beta", type=float, default=0.01)
    parser.add_argument("--steps", type=int, default=None, help="default: the quick budget's")
    parser.add_argument("--truth-fraction", type=float, default=None)
    parser.add_argument(
        "--context", default=None, help="the network's context fields (default: all; none)"
    )
    parser.add_argument(
        "--attention-levels", type=int, default=None, help="default: the quick budget's"
    )
    parser.add_argument(
        "--p-mean",
        type=float,
        default=None,
        help="diffusion models: mean of ln(sigma) in training (default: EDMConfig's)",
    )
    parser.add_argument(
        "--k-range", default="1,4", help="seed counts drawn in training, LOW,HIGH (default 1,4)"
    )
    parser.add_argument("--inits", default="0,2,4,6,8,10,12,14")
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    vae = VAESettings(
        draws=args.draws,
        latent_samples=args.latent_samples,
        estimator=args.estimator,
        alpha=args.alpha,
        beta=args.beta,
    )
    k_range = tuple(int(k) for k in args.k_range.split(","))
    overrides = {
        "steps": args.steps,
        "truth_fraction": args.truth_fraction,
        "k_range": k_range,
        "context": parse_context(args.context),
        "attention_levels": args.attention_levels,
    }
    if args.model == "vae-crps":  # 16 decoder passes per step: 16 / latent_samples conditions
        overrides["vae"] = vae
    elif args.p_mean is not None:
        overrides["edm"] = EDMConfig(p_mean=args.p_mean)
    config = budget_config(args.model, "quick", **overrides)
    checkpoint = args.out / "checkpoint"
    start = time.perf_counter()
    train(args.data / "world-reforecast.zarr", checkpoint, config, progress=False)
    seconds = time.perf_counter() - start
    print(f"trained {args.model} ({vae if args.model == 'vae-crps' else 'quick'}): {seconds:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train.json").write_text(json.dumps({"seconds": seconds}))
    evaluate(
        checkpoint,
        args.data / "world-operational.zarr",
        args.out / "eval",
        inits=[int(i) for i in args.inits.split(",")],
        leads=[f"{h}h" for h in LEADS_H],
        members=args.members,
        seeds=args.seeds,
        per_variable=True,
    )


if __name__ == "__main__":
    main()
