#!/usr/bin/env bash
# Run every benchmark in turn (about 3.5 hours on 2 cores; needs ~60 GB of free disk).
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
# paired comparisons and spectra (a 400-step SEEDS-GEE, as forecast run trains it)
forecast prepare world --out runs/ss/prepared
forecast train --model seeds-gee --steps 400 --data runs/ss/prepared/world-reforecast.zarr --out runs/ss/seeds-gee -q
python benchmarks/significance_and_spectra.py --checkpoint runs/ss/seeds-gee \
    --source runs/ss/prepared/world-operational.zarr --out runs/ss/sig --halves
python benchmarks/remote_sources.py --years 3
# real scale (needs ~55 GB of free disk): streamed training, a 0.25-degree prepare, a 20 GB store
python benchmarks/streaming_training.py --inits 120 --steps 6 --out runs/stream-big
python benchmarks/real_scale.py --out runs/real-scale
# crashes: SIGKILL at random moments, then resume (3 seeds x 8 kills per command)
python tests/kill_harness.py --kills 8 --seeds 0 1 2
