"""Working memory of a network beyond its weights, measured on the CPU, and what it means
for a GPU at 0.25 degree.

    scripts/in-env python benchmarks/network_memory.py --budget full --grid 181x360

Each case runs in a fresh process: build the SEEDS-GEE network of the budget (4
variables), note the resident memory, run one generation forward pass (batch 1, no
gradients) or one training step (batch 1, forward, backward, AdamW; with and without
activation checkpointing), and report the peak resident memory minus the noted one: the
activations (and, for training, gradients and AdamW's two moments). Activations scale with
the number of grid points and the batch, so the last columns scale them to 721x1440 at
batch 1 and 4, in float32: an upper bound for a GPU under bf16 autocast (most activations
half the size), an estimate, not a measurement on one.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

FINE = (721, 1440)


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def measure(budget: str, grid: tuple[int, int], case: str) -> dict:
    """In this process: MB above the built model's footprint at the peak of ``case``."""
    import torch
    from gpu_check import budget_model, condition_for

    from forecast.models import parameter_count

    torch.manual_seed(0)
    model = budget_model(
        "seeds-gee", budget, activation_checkpointing=(case == "train+checkpointing") or None
    )
    parameters_mb = parameter_count(model) * 4 / 2**20
    x = torch.randn(1, 4, *grid)
    condition = condition_for(model, 1, grid, "cpu")
    before = resident_mb()
    if case == "generate":
        model.eval()
        with torch.inference_mode():
            model(x, torch.ones(1), condition)
    else:
        model.train()
        optimiser = torch.optim.AdamW(model.parameters())
        model.training_loss(x, condition).backward()
        optimiser.step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"parameters_mb": parameters_mb, "working_mb": peak - before}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", default="full")
    parser.add_argument("--grid", default="181x360")
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    grid = tuple(int(n) for n in args.grid.split("x"))
    if args.case:
        print(json.dumps(measure(args.budget, grid, args.case)))
        return
    scale = FINE[0] * FINE[1] / (grid[0] * grid[1])
    print(f"{args.budget}, {args.grid}, batch 1, float32 on the CPU")
    print("| case | weights MB | working MB | 721x1440 batch 1 (GiB) | batch 4 (GiB) |")
    print("|---|---|---|---|---|")
    for case in ("generate", "train", "train+checkpointing"):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--budget",
                args.budget,
                "--grid",
                args.grid,
                "--case",
                case,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        # weights and (training) their gradient and two moments do not scale with the grid
        fixed = figures["parameters_mb"] * (1 if case == "generate" else 3)
        activations = max(figures["working_mb"] - fixed, 0.0)
        one, four = ((fixed + activations * scale * batch) / 1024 for batch in (1, 4))
        print(
            f"| {case} | {figures['parameters_mb']:.0f} | {figures['working_mb']:.0f} | "
            f"{one:.1f} | {four:.1f} |"
        )


if __name__ == "__main__":
    main()
