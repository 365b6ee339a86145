#!/usr/bin/env bash
# Run every benchmark in turn (about 110 minutes on 2 cores; needs ~9 GB of free disk in /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/crps_throughput.py --members 50 512 2048 --torch
python benchmarks/crps_throughput.py --members 512 2048 --nan 0.05 --out benchmarks/out/crps_throughput_nan.json
python benchmarks/multivariate_scores.py
python benchmarks/scoring_out_of_core.py --gib 8 --limit 2GiB
python benchmarks/prepare_throughput.py
python benchmarks/world_build.py --profiles tiny default
python benchmarks/world_energy.py
# generative models on the world: quick budgets, then all 16 held-out inits, K = 2, N = 64
forecast prepare world
for model in seeds-gee seeds-gpp vae-crps; do
  forecast train --model "$model" --budget quick --out "runs/bench/$model" -q
  python benchmarks/seeds_world.py --checkpoint "runs/bench/$model" --out "runs/bench/eval-$model"
done
# the sampler and throughput studies on the checkpoint and stores of `forecast run`
forecast run -q
python benchmarks/sampler_vs_handwritten.py
python benchmarks/sampler_steps.py --checkpoint runs/world/models/seeds-gee --source runs/world/prepared/world-operational.zarr
python benchmarks/throughput.py
# crashes: SIGKILL at random moments, then resume (3 seeds x 8 kills per command)
python tests/kill_harness.py --kills 8 --seeds 0 1 2
