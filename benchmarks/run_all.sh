#!/usr/bin/env bash
# Run every benchmark in turn (about 5 hours on 2 cores; needs ~60 GB of free disk).
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/crps_throughput.py --members 50 512 2048 --torch
python benchmarks/crps_throughput.py --members 512 2048 --nan 0.05 --out benchmarks/out/crps_throughput_nan.json
python benchmarks/multivariate_scores.py
python benchmarks/scoring_out_of_core.py --gib 8 --limit 2GiB
python benchmarks/prepare_throughput.py
python benchmarks/world_build.py --profiles tiny default
python benchmarks/world_energy.py
# the second world (RESULTS "forecast run end to end, second world" and "SEEDS-GEE against the
# K-seed bound, second world"): forecast run's models, then its SEEDS-GEE against the bound
forecast run
python benchmarks/quantile_map.py --run runs/world --refit
python benchmarks/score_in_memory.py --run runs/world --repeats 2
python benchmarks/report_time.py --run runs/world
python benchmarks/seeds_world.py --checkpoint runs/world/models/seeds-gee \
    --source runs/world/prepared/world-operational.zarr --inits 0,2,4,6,8,10,12,14 --seeds 2 --per-variable
# generative models on the world: quick budgets, then all 16 held-out inits, K = 2, N = 64
forecast prepare world
for model in seeds-gee seeds-gpp vae-crps; do
  forecast train --model "$model" --budget quick --out "runs/bench/$model" -q
  python benchmarks/seeds_world.py --checkpoint "runs/bench/$model" --out "runs/bench/eval-$model"
done
# VAE-CRPS: the loss on prior draws and its ablations, both worlds (RESULTS "VAE-CRPS: calibrated prior draws")
mkdir -p runs && sed 's/model_error: true/model_error: false/' data_catalog.yaml > runs/perfect.yaml
forecast prepare world --catalog runs/perfect.yaml --out runs/vae/perfect
forecast prepare world --out runs/vae/me
B="python benchmarks/vae_calibration.py"
$B --data runs/vae/perfect --draws posterior --estimator fair --out runs/vae/posterior --context none --attention-levels 0
$B --data runs/vae/perfect --estimator fair --out runs/vae/prior-fair --context none --attention-levels 0
$B --data runs/vae/perfect --out runs/vae/prior --context none --attention-levels 0
$B --data runs/vae/perfect --draws both --estimator fair --out runs/vae/both --context none --attention-levels 0
$B --data runs/vae/perfect --k-range 2,2 --estimator fair --out runs/vae/k2 --context none --attention-levels 0
$B --data runs/vae/perfect --latent-samples 8 --estimator fair --out runs/vae/s8 --context none --attention-levels 0
$B --data runs/vae/me --truth-fraction 1 --out runs/vae/me-tf1 --context none --attention-levels 0
$B --data runs/vae/me --truth-fraction 1 --estimator fair --out runs/vae/me-tf1-fair --context none --attention-levels 0
$B --data runs/vae/me --model seeds-gpp --out runs/vae/me-gpp --context none --attention-levels 0 --p-mean -1.2
python benchmarks/member_cost.py
# the network: context, attention, noise levels (RESULTS "Context, global attention and the noise levels")
$B --data runs/vae/perfect --model seeds-gee --context none --attention-levels 0 --p-mean -1.2 --out runs/net/before
$B --data runs/vae/perfect --model seeds-gee --context none --p-mean -1.2 --out runs/net/attention-only
$B --data runs/vae/perfect --model seeds-gee --attention-levels 0 --p-mean -1.2 --out runs/net/context-only
$B --data runs/vae/perfect --model seeds-gee --p-mean -1.2 --out runs/net/both
$B --data runs/vae/perfect --model seeds-gee --out runs/net/default
$B --data runs/vae/perfect --model seeds-gee --p-mean 0.5 --out runs/net/pm0.5
$B --data runs/vae/perfect --model seeds-gee --p-mean 1 --out runs/net/pm1
$B --data runs/vae/perfect --out runs/net/vae
$B --data runs/vae/me --truth-fraction 1 --out runs/net/vae-me
$B --data runs/vae/me --model seeds-gpp --out runs/net/gpp-me
for K in 1 4 8; do
  python benchmarks/seeds_world.py --checkpoint runs/net/default/checkpoint --source runs/vae/perfect/world-operational.zarr \
      --inits 0,2,4,6,8,10,12,14 --seeds $K --per-variable --out runs/net/default/evalK$K
done
python benchmarks/network_memory.py --budget full --grid 181x360
python benchmarks/spread_diagnosis.py --checkpoint runs/vae/k2/checkpoint \
    --source runs/vae/perfect/world-operational.zarr --ensemble runs/vae/k2/eval/ensemble.zarr
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
