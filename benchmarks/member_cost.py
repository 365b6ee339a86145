"""What a member costs: each model's network at the quick budget's architecture (random
weights: the cost does not depend on them), side by side in one run on this machine.

    scripts/in-env python benchmarks/member_cost.py [--grid 32x64] [--batch 64]

- generation: milliseconds per member field (one member at one lead time) at the model's
  default sampler: 16 network evaluations for the diffusion models, one decoder pass for
  VAE-CRPS;
- training: seconds per optimiser step at the quick budget's batch (forward, backward,
  AdamW), the figure that makes "trained for the same wall-clock time" concrete.

The timings are gpu_check's (4 variables), here on the CPU.
"""

from __future__ import annotations

import argparse

import torch
from gpu_check import generation_rate, training_step_seconds

from forecast.train import budget_config


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grid", default="32x64")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="training steps timed")
    args = parser.parse_args()
    grid = tuple(int(n) for n in args.grid.split("x"))
    print(f"{args.grid}, 4 variables, {torch.get_num_threads()} torch threads")
    print("| model | ms per member field | s per training step (quick batch) |")
    print("|---|---|---|")
    for kind in ("seeds-gee", "vae-crps"):
        rate, _ = generation_rate(
            "cpu", grid, args.batch, "float32", steps=None, repeats=args.repeats, kind=kind
        )
        batch = budget_config(kind, "quick").batch_size
        step = training_step_seconds("cpu", grid, batch, args.steps, kind=kind)
        print(f"| {kind} | {1000 / rate:.1f} | {step:.3f} |")


if __name__ == "__main__":
    main()
