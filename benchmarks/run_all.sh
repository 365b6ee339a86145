#!/usr/bin/env bash
# Run every benchmark in turn (about 25 minutes on 2 cores; needs ~9 GB of free disk in /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/crps_throughput.py --points 1000000 --members 50 512 --budget 5
python benchmarks/scoring_out_of_core.py --gib 8 --limit 2GiB
python benchmarks/prepare_throughput.py
python benchmarks/world_build.py --profiles tiny default
python benchmarks/world_energy.py
