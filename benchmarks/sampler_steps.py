"""SEEDS-GEE: CRPS and spread-skill against the number of network evaluations per member.

    scripts/in-env python benchmarks/sampler_steps.py --checkpoint runs/seeds-gee \
        --source data/prepared/world-operational.zarr --steps 8,16,32,64,256

The same members (the same starting noise: each init time seeds its own generator) are
drawn with DPM-Solver++(2M) at each number of evaluations, so the differences are the
solver's discretisation error, not sampling noise. The CRPS is relative to the longest
run's (the reference, e.g. 256 evaluations); goal: within 1% at 32 or fewer.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from forecast.generate import generate
from forecast.reference_ensembles import held_out
from forecast.scoring.summary import score_ensemble
from pipelines.store import open_complete


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/seeds-gee"))
    parser.add_argument("--source", type=Path, default=Path("data/prepared/world-operational.zarr"))
    parser.add_argument("--inits", default="0,5,10,15")
    parser.add_argument("--leads", default="24h,120h")
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--steps", default="8,16,32,64,256")
    parser.add_argument("--out", type=Path, default=Path("runs/sampler_steps"))
    args = parser.parse_args()
    inits = [int(i) for i in args.inits.split(",")]
    steps_list = sorted(int(s) for s in args.steps.split(","))
    results = {}
    for steps in steps_list:
        start = time.perf_counter()
        path = generate(
            args.checkpoint,
            args.source,
            args.out / f"steps-{steps}.zarr",
            n_members=args.members,
            inits=inits,
            leads=args.leads.split(","),
            steps=steps,
            progress=False,
        )
        seconds = time.perf_counter() - start
        ensemble = open_complete(path)
        _, truth, climatology = held_out(args.source, inits, ensemble["lead_time"].values)
        scores = score_ensemble(
            ensemble[list(truth.data_vars)], truth, climatology=climatology
        ).compute()
        fields = ensemble["z500"].size // ensemble["z500"][0, 0, 0].size
        results[steps] = {"scores": scores, "ms_per_member_field": 1000 * seconds / fields}
        print(f"{steps:4d} evaluations: {seconds:.0f} s", flush=True)
    reference = results[steps_list[-1]]["scores"]
    hours = [int(t / np.timedelta64(1, "h")) for t in reference["lead_time"].values]
    print(
        f"\nrelative to {steps_list[-1]} evaluations; per lead {hours} h: z500 standard CRPS | "
        "mean over variables | z500 spread-skill | ms per member field"
    )
    report = {"inits": inits, "members": args.members, "lead_hours": hours, "rows": []}
    for steps, result in results.items():
        scores = result["scores"]
        ratio = scores["crps_nrg"] / reference["crps_nrg"]
        row = {
            "evaluations": steps,
            "z500_crps_relative": ratio.sel(variable="z500").values.tolist(),
            "mean_crps_relative": ratio.mean("variable").values.tolist(),
            "z500_spread_skill": scores["spread_skill"].sel(variable="z500").values.tolist(),
            "ms_per_member_field": result["ms_per_member_field"],
        }
        report["rows"].append(row)
        print(
            f"  {steps:4d}  "
            + " ".join(f"{x:6.4f}" for x in row["z500_crps_relative"])
            + " | "
            + " ".join(f"{x:6.4f}" for x in row["mean_crps_relative"])
            + " | "
            + " ".join(f"{x:5.3f}" for x in row["z500_spread_skill"])
            + f" | {row['ms_per_member_field']:.0f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
