"""What a member costs: each model's network at the quick budget's architecture (random
weights: the cost does not depend on them), side by side in one run on this machine.

    scripts/in-env python benchmarks/member_cost.py [--grid 32x64] [--batch 64]

- generation: milliseconds per member field (one member at one lead time) at the model's
  default sampler: 16 network evaluations for the diffusion models, one decoder pass for
  VAE-CRPS;
- training: seconds per optimiser step at the quick budget's batch (forward, backward,
  AdamW), the figure that makes "trained for the same wall-clock time" concrete.
"""

from __future__ import annotations

import argparse
import time

import torch

from forecast.registry import Architecture, model_kind
from forecast.train import BUDGETS, budget_config


def network(kind: str, variables: int) -> torch.nn.Module:
    quick = BUDGETS["quick"]
    architecture = Architecture(width=quick["width"], multipliers=quick["multipliers"])
    return model_kind(kind).build(variables, architecture)[0]


def milliseconds_per_member(
    kind: str, grid: tuple[int, int], batch: int, variables: int, repeats: int
) -> float:
    model = network(kind, variables).eval()
    torch.manual_seed(0)
    noise = torch.randn(model.noise_shape((batch, variables, *grid)))
    condition = (torch.randn(batch, 2 * variables, *grid), torch.ones(batch))
    with torch.inference_mode():  # steps None: the model's default sampler
        model.sample(noise, condition)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model.sample(noise, condition)
    return 1000 * (time.perf_counter() - start) / (repeats * batch)


def seconds_per_step(kind: str, grid: tuple[int, int], variables: int, steps: int) -> float:
    model = network(kind, variables).train()
    batch = budget_config(kind, "quick").batch_size
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    target = torch.randn(batch, variables, *grid)
    condition = (torch.randn(batch, 2 * variables, *grid), torch.ones(batch))
    generator = torch.Generator().manual_seed(0)
    for step in range(steps + 1):
        if step == 1:  # the first step warms up
            start = time.perf_counter()
        loss = model.training_loss(target, condition, generator)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grid", default="32x64")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--variables", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="training steps timed")
    args = parser.parse_args()
    grid = tuple(int(n) for n in args.grid.split("x"))
    print(f"{args.grid}, {args.variables} variables, {torch.get_num_threads()} torch threads")
    print("| model | ms per member field | s per training step (quick batch) |")
    print("|---|---|---|")
    for kind in ("seeds-gee", "vae-crps"):
        ms = milliseconds_per_member(kind, grid, args.batch, args.variables, args.repeats)
        step = seconds_per_step(kind, grid, args.variables, args.steps)
        print(f"| {kind} | {ms:.1f} | {step:.3f} |")


if __name__ == "__main__":
    main()
