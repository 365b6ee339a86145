"""SEEDS on the embedded world: K seeds -> N generated members, against the seeds alone
and the 31-member physics ensemble, on held-out init times.

    scripts/in-env forecast prepare world
    scripts/in-env forecast train --model seeds-gee --budget quick
    scripts/in-env python benchmarks/seeds_world.py --checkpoint runs/seeds-gee --inits 0,4,8,12

Prints the standard and fair CRPS relative to the physics ensemble, spread-skill and the
rank-histogram reliability index of z500 (and the mean over variables) at a few lead
times, and the cost per generated member (network evaluations and seconds).

The two "bound" rows are the K-seed oracle (`forecast.reference_ensembles.seed_oracle`):
the physics ensemble recentred on what K seeds reveal of its centre and widened by the
uncertainty left, i.e. the best a K-seed emulator can reach. "bound K" knows nothing
else (a flat prior); "bound K clim" also shrinks toward the truth's climatology, a fair
bound only where the ensemble has no model error.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.generate import generate
from forecast.reference_ensembles import held_out, seed_oracle
from forecast.scoring.summary import score_ensemble
from pipelines.store import open_complete

LEADS_H = (24, 72, 120, 240)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/seeds-gee"))
    parser.add_argument("--source", type=Path, default=Path("data/prepared/world-operational.zarr"))
    parser.add_argument("--inits", default="all", help="comma-separated indices or 'all'")
    parser.add_argument(
        "--leads", default=",".join(f"{h}h" for h in LEADS_H), help="lead times to generate"
    )
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument(
        "--per-variable",
        action="store_true",
        help="print every variable, not only z500 and the mean over variables",
    )
    parser.add_argument(
        "--no-quantile-map",
        dest="quantile_map",
        action="store_false",
        help="generate without the checkpoint's precipitation quantile map",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/seeds_world"))
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT's generated ensemble when it was made from other inputs "
        "(another checkpoint, inits or leads)",
    )
    args = parser.parse_args()
    n_inits = open_complete(args.source).sizes["init_time"]
    inits = list(range(n_inits)) if args.inits == "all" else [int(i) for i in args.inits.split(",")]
    evaluate(
        args.checkpoint,
        args.source,
        args.out,
        inits=inits,
        leads=args.leads.split(","),
        members=args.members,
        seeds=args.seeds,
        per_variable=args.per_variable,
        overwrite=args.overwrite,
        quantile_mapping=args.quantile_map,
    )


def evaluate(
    checkpoint: Path,
    source: Path,
    out: Path,
    *,
    inits: list[int],
    leads: list[str],
    members: int = 64,
    seeds: int = 2,
    per_variable: bool = False,
    overwrite: bool = False,
    quantile_mapping: bool = True,
) -> dict:
    """Generate ``members`` from ``seeds`` seeds at ``inits`` and ``leads``, score them next
    to the seeds, the physics ensemble and the K-seed bounds, print the tables and write
    ``out/report.json`` and ``out/scores.nc``; returns the report."""
    start = time.perf_counter()
    path = generate(
        checkpoint,
        source,
        out / "ensemble.zarr",
        n_members=members,
        n_seeds=seeds,
        inits=inits,
        leads=leads,
        overwrite=overwrite,
        quantile_mapping=quantile_mapping,
    )
    seconds = time.perf_counter() - start
    generated = open_complete(path)
    lead_times = generated["lead_time"].values
    physics, truth, climatology = held_out(source, inits, lead_times)
    ensembles = {
        f"{seeds} seeds": physics.isel(member=slice(0, seeds)),
        f"physics {physics.sizes['member']}": physics,
        f"generated {members}": generated[list(physics.data_vars)],
        f"bound K={seeds}": seed_oracle(physics, seeds),
        f"bound K={seeds} clim": seed_oracle(physics, seeds, climatology),
    }
    results = {
        name: score_ensemble(ensemble, truth, climatology=climatology).compute()
        for name, ensemble in ensembles.items()
    }
    hours = [int(t / np.timedelta64(1, "h")) for t in lead_times]
    report = {
        "generation_seconds": seconds,
        "members_generated": int(generated["z500"].size // generated["z500"][0, 0, 0].size),
        "sampler": generated.attrs["sampler"],
        "lead_hours": hours,
        "inits": inits,
    }
    report["seconds_per_member_field"] = seconds / report["members_generated"]
    print(
        f"generation: {seconds:.0f} s for {report['members_generated']} member-lead fields "
        f"({report['seconds_per_member_field'] * 1000:.1f} ms each; {report['sampler']})"
    )
    reference = results[f"physics {physics.sizes['member']}"]
    variables = ["z500", "mean of variables"]
    if per_variable:
        variables = [*physics.data_vars, "mean of variables"]
    for variable in variables:
        print(
            f"\n{variable}, per lead {hours} h: standard CRPS / fair CRPS (both relative to "
            "physics) | spread-skill | rank reliability index"
        )
        for name, scores in results.items():
            row = {}
            for key in ("crps_nrg", "crps"):
                ratio = (scores[key] / reference[key]).sel(lead_time=lead_times)
                row[key] = _one_variable(ratio, variable)
            for key in ("spread_skill", "rank_reliability_index"):
                row[key] = _one_variable(scores[key].sel(lead_time=lead_times), variable)
            print(f"  {name:14s} " + " | ".join(" ".join(f"{x:5.3f}" for x in row[k]) for k in row))
            report[f"{variable}:{name}"] = {
                "crps_standard_relative_to_physics": row["crps_nrg"].tolist(),
                "crps_fair_relative_to_physics": row["crps"].tolist(),
                "spread_skill": row["spread_skill"].tolist(),
                "rank_reliability_index": row["rank_reliability_index"].tolist(),
            }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    xr.concat(
        list(results.values()),
        dim=xr.DataArray(list(results), dims="ensemble", name="ensemble"),
        join="outer",  # rank histograms have M + 1 bins: different per ensemble
    ).to_netcdf(out / "scores.nc")
    return report


def _one_variable(values: xr.DataArray, variable: str) -> np.ndarray:
    """One variable's values per lead, or their mean over variables."""
    if variable == "mean of variables":
        return values.mean("variable").values
    return values.sel(variable=variable).values


if __name__ == "__main__":
    main()
