"""Generation, training and data-loading throughput of SEEDS-GEE on this machine.

    scripts/in-env python benchmarks/throughput.py \
        --checkpoint runs/world/models/seeds-gee --source runs/world/prepared/world-operational.zarr \
        --reforecast runs/world/prepared/world-reforecast.zarr

1. The network alone (quick-budget architecture, random weights: speed does not depend on
   them) at 32x64 and 64x128, by batch size: members per second at 32 evaluations each.
2. ``forecast generate`` end to end on the world store, with the time inside the
   network's sampler measured separately: the share left to loading, normalisation and
   zarr writes.
3. Training: samples per second of the full step (forward, backward, AdamW, EMA) and of
   the data loader alone (drawing and stacking the same batches).

Ratios are measured side by side in one run; absolute times on a shared machine drift.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from gpu_check import generation_rate  # the same timing of the network, here on the CPU

import forecast.generate as generate_module
from forecast.samples import AnomalyEnsemble, SeedsSamples
from forecast.train import batch_indices, budget_config, train

EVALUATIONS = 32


def generation_share(checkpoint: Path, source: Path, members: int) -> dict[str, float]:
    inside = {"seconds": 0.0}
    original = generate_module.generate_init

    def timed(*args, **kwargs):
        start = time.perf_counter()
        result = original(*args, **kwargs)
        inside["seconds"] += time.perf_counter() - start
        return result

    generate_module.generate_init = timed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            generate_module.generate(
                checkpoint,
                source,
                Path(tmp) / "ens.zarr",
                n_members=members,
                inits=[0, 1],
                leads=["24h", "120h"],
                progress=False,
            )
            total = time.perf_counter() - start
    finally:
        generate_module.generate_init = original
    return {"total_s": total, "sampler_s": inside["seconds"], "share": inside["seconds"] / total}


def training_rates(reforecast: Path, steps: int) -> dict[str, float]:
    config = budget_config("seeds-gee", "quick", steps=steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train(reforecast, Path(tmp) / "gee", config, progress=False)
        train_seconds = time.perf_counter() - start
    ensemble = AnomalyEnsemble.load(reforecast)
    samples = SeedsSamples(ensemble, k_range=config.k_range, truth_fraction=0.0, seed=0)
    order = np.random.default_rng(0).permutation(len(samples))
    start = time.perf_counter()
    drawn = 0
    for step in range(steps):
        batch = [samples[i] for i in batch_indices(order, step, config.batch_size)]
        torch.stack([b["target"] for b in batch])
        torch.stack([b["condition"] for b in batch])
        drawn += len(batch)
    loader_seconds = time.perf_counter() - start
    return {
        "train_samples_per_s": steps * config.batch_size / train_seconds,
        "loader_samples_per_s": drawn / loader_seconds,
        "batch_size": config.batch_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/world/models/seeds-gee"))
    parser.add_argument(
        "--source", type=Path, default=Path("runs/world/prepared/world-operational.zarr")
    )
    parser.add_argument(
        "--reforecast", type=Path, default=Path("runs/world/prepared/world-reforecast.zarr")
    )
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--train-steps", type=int, default=30)
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"network alone, {EVALUATIONS} evaluations per member: members per second")
    for shape in ((32, 64), (64, 128)):
        rates = {
            b: generation_rate("cpu", shape, b, "float32", steps=EVALUATIONS)[0]
            for b in map(int, args.batches.split(","))
        }
        print(
            f"  {shape[0]}x{shape[1]}: "
            + ", ".join(f"batch {b}: {r:.2f}" for b, r in rates.items())
        )
    share = generation_share(args.checkpoint, args.source, members=32)
    print(
        f"forecast generate (2 inits x 2 leads x 32 members): {share['total_s']:.1f} s, of which "
        f"the sampler {share['sampler_s']:.1f} s ({100 * share['share']:.0f}%); loading, "
        f"normalisation and writing {100 * (1 - share['share']):.0f}%"
    )
    rates = training_rates(args.reforecast, args.train_steps)
    print(
        f"training (batch {rates['batch_size']}): {rates['train_samples_per_s']:.1f} samples/s; "
        f"the loader alone: {rates['loader_samples_per_s']:.0f} samples/s "
        f"({rates['loader_samples_per_s'] / rates['train_samples_per_s']:.0f}x faster)"
    )


if __name__ == "__main__":
    main()
