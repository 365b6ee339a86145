"""Where a generated ensemble's spread is right and where it is not.

    scripts/in-env python benchmarks/spread_diagnosis.py --checkpoint runs/vae/k2/checkpoint \
        --source perfect/world-operational.zarr --ensemble runs/vae/k2/eval/ensemble.zarr

1. In the units the network is trained in (standardised anomalies, unweighted over the
   grid; the residual scale is one number per lead and variable, so it cancels):
   spread-skill of members drawn for K = 2 seeds against held-out operational members
   20-30, for a few seed pairs, per lead and variable.
2. In physical units: spread / RMSE of the ensemble mean of ``--ensemble`` (a
   ``seeds_world.py`` output) against operational member 30, by band of 4 latitude rows,
   for z500; the physics members 0-29 next to it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from forecast.checkpoint import load_checkpoint
from forecast.generate import generate_init
from forecast.reference_ensembles import held_out
from forecast.samples import AnomalyEnsemble, ensemble_context, valid_times
from pipelines.store import open_complete

INITS = [0, 2, 4, 6, 8, 10, 12, 14]


def network_units(checkpoint: Path, source: Path, pairs: list[list[int]], members: int) -> None:
    model, trained = load_checkpoint(checkpoint)
    model.eval()
    ensemble = AnomalyEnsemble.load(source)
    leads = [1, 3, 5, 10]
    days = ensemble.lead_days[leads]
    scale = trained.residual_scale.at(days)
    generator = torch.Generator().manual_seed(0)
    context = ensemble_context(ensemble, trained.context, trained.static)
    print("spread-skill in standardised anomalies against members 20-30, per variable")
    for pair in pairs:
        variance = error = 0.0
        for init in INITS:
            pool = np.stack([ensemble.members(init, j) for j in leads])  # (lead, member, ...)
            with torch.inference_mode():
                drawn = generate_init(  # (lead, member, var, lat, lon)
                    model,
                    pool[:, pair],
                    days,
                    members,
                    steps=None,
                    batch_size=64,
                    generator=generator,
                    scale=scale,
                    context=context.at(
                        valid_times(ensemble.coords, init, leads), ensemble.std[init, leads]
                    ),
                )
            variance = variance + drawn.var(1, ddof=1).mean((2, 3))
            held = pool[:, 20:31]
            error = error + ((drawn.mean(1, keepdims=True) - held) ** 2).mean((1, 3, 4))
        ratio = np.sqrt(variance / error * (members + 1) / members)
        for k, day in enumerate(days):
            print(f"  seeds {pair}, day {day:g}: {np.round(ratio[k], 2)}")


def latitude_bands(source: Path, generated: Path) -> None:
    ensemble = open_complete(generated)
    physics, _, _ = held_out(source, INITS, ensemble["lead_time"].values)
    target = physics["z500"].isel(member=30).load()
    candidates = {
        "generated": ensemble["z500"].load(),
        "physics 0-29": physics["z500"].isel(member=slice(0, 30)).load(),
    }
    print("z500 spread / RMSE against member 30 by band of 4 latitude rows, south to north")
    for name, members in candidates.items():
        variance = members.var("member", ddof=1).mean(["init_time", "lon"])
        mse = ((members.mean("member") - target) ** 2).mean(["init_time", "lon"])
        ratio = np.sqrt(variance / mse)
        for k, lead in enumerate(ensemble["lead_time"].values):
            bands = [
                float(ratio.isel(lead_time=k, lat=slice(b, b + 4)).mean())
                for b in range(0, ratio.sizes["lat"], 4)
            ]
            hours = int(lead / np.timedelta64(1, "h"))
            print(f"  {name:12s} {hours:4d} h: " + " ".join(f"{b:.2f}" for b in bands))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--ensemble", type=Path, required=True)
    parser.add_argument("--members", type=int, default=32)
    args = parser.parse_args()
    network_units(args.checkpoint, args.source, [[0, 1], [1, 2], [5, 9]], args.members)
    latitude_bands(args.source, args.ensemble)


if __name__ == "__main__":
    main()
