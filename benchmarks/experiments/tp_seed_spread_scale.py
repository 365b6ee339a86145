"""Experiment (not in forecast): SEEDS-GEE with a residual scale for precipitation that
varies from point to point with the seeds' spread, against the same training without it.

forecast's residual parametrisation is member = seed mean + s(lead, var) r, one scale per
lead and variable. Here tp's becomes s(lead) sigma(x), sigma = min(cap, sqrt(alpha +
(seed std / s)^2)): small where the K seeds agree (both dry, say), so that the network's
errors there shrink with it. Patched in for training (the targets are divided by sigma)
and generation (the residuals multiplied by it); K from 2 to 4 in training (K = 1 has no
seed spread), in the baseline too. Prints the amounts against the physics ensemble and
tp's fair CRPS over the physics' and spread-skill at days 1 / 3 / 5 / 10.

    scripts/in-env forecast run --out /tmp/cold/run    # its prepared stores
    scripts/in-env python benchmarks/experiments/tp_seed_spread_scale.py /tmp/cold/run \
        --alpha 0 --out /tmp/tp_scale/base             # the baseline: sigma = 1
    scripts/in-env python benchmarks/experiments/tp_seed_spread_scale.py /tmp/cold/run \
        --alpha 0.3 --cap 1 --out /tmp/tp_scale/a03cap1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import forecast.diffusion.edm as edm
import forecast.samples as samples
from forecast.checkpoint import read_checkpoint
from forecast.generate import generate
from forecast.scoring.amounts import amount_summary
from forecast.train import budget_config, train
from pipelines.store import open_complete

INITS = [0, 8, 15]  # forecast run's three held-out inits
LEADS = ["24h", "72h", "120h", "240h"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a forecast run folder (its prepared stores)")
    parser.add_argument("--alpha", type=float, required=True, help="0: the baseline")
    parser.add_argument("--cap", type=float, default=float("inf"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tp = 0  # the variables are sorted: tp, u500, v500, vo500, z500

    def sigma(seed_std: torch.Tensor, s: torch.Tensor | float) -> torch.Tensor:
        return torch.sqrt(args.alpha + (seed_std / s) ** 2).clamp(max=args.cap)

    if args.alpha > 0:
        item_of = samples.SeedsSamples.__getitem__

        def scaled_item(self, index):
            item = item_of(self, index)
            _, lead = self.pairs[index[0] if isinstance(index, tuple) else index]
            n_vars = item["target"].shape[0]
            seed_std = item["condition"][n_vars + tp]  # the condition: mean, std, context
            item["target"][tp] /= sigma(seed_std, float(self.scale[lead][tp]))
            return item

        samples.SeedsSamples.__getitem__ = scaled_item

    store = args.run / "prepared/world-reforecast.zarr"
    config = budget_config("seeds-gee", "quick", steps=400, k_range=(2, 4))
    checkpoint = train(store, args.out / "model", config, progress=False)
    trained = read_checkpoint(checkpoint)
    assert list(trained.variables).index("tp") == tp, trained.variables

    if args.alpha > 0:
        sample_of = edm.EDMPreconditioner.sample

        def scaled_sample(self, noise, condition=None, *rest, **options):
            residual = sample_of(self, noise, condition, *rest, **options)
            n_vars = residual.shape[1]
            s = trained.residual_scale.at(condition[1].cpu().numpy())[:, tp]
            seed_std = condition[0][:, n_vars + tp]
            residual[:, tp] *= sigma(seed_std, torch.from_numpy(s).to(residual)[:, None, None])
            return residual

        edm.EDMPreconditioner.sample = scaled_sample

    operational = args.run / "prepared/world-operational.zarr"
    path = generate(
        checkpoint, operational, args.out / "ensemble.zarr", n_members=32, n_seeds=2,
        inits=INITS, leads=LEADS, overwrite=True, progress=False,
    )  # fmt: skip
    generated = open_complete(path).tp.load()
    at = {"init_time": generated.init_time, "lead_time": generated.lead_time}
    physics = open_complete(operational).tp.sel(**at).load()
    truth = open_complete(operational, "truth").tp.sel(**at).load()
    ours, theirs = amount_summary(generated), amount_summary(physics)
    print(
        f"alpha {args.alpha} cap {args.cap}: dry {ours['dry_fraction']:.3f} (physics "
        f"{theirs['dry_fraction']:.3f}), p95 {100 * (ours['p95'] / theirs['p95'] - 1):+.0f}%, "
        f"p99 {100 * (ours['p99'] / theirs['p99'] - 1):+.0f}%, "
        f"largest {float(generated.max()) * 1e3:.0f} mm"
    )
    weights = np.cos(np.deg2rad(generated.lat.values))[:, None]
    observed = truth.transpose("init_time", "lead_time", "lat", "lon")

    def fair_crps(ensemble) -> np.ndarray:
        x = ensemble.transpose("member", *observed.dims).values
        m = x.shape[0]
        spread = np.abs(x[:, None] - x[None]).sum((0, 1)) / (m * (m - 1))
        pointwise = np.abs(x - observed.values).mean(0) - 0.5 * spread
        return ((pointwise * weights).mean((-2, -1)) / weights.mean()).mean(0)

    def spread_skill(ensemble) -> np.ndarray:
        m = ensemble.sizes["member"]
        variance = ensemble.var("member", ddof=1).transpose(*observed.dims).values
        error = (ensemble.mean("member").transpose(*observed.dims).values - observed.values) ** 2
        area = ((variance * weights).mean((0, 2, 3)), (error * weights).mean((0, 2, 3)))
        return np.sqrt((m + 1) / m * area[0] / area[1])

    print(
        "  fair CRPS / physics", np.round(fair_crps(generated) / fair_crps(physics), 2),
        "spread-skill", np.round(spread_skill(generated), 2),
        "physics", np.round(spread_skill(physics), 2),
    )  # fmt: skip


if __name__ == "__main__":
    main()
