"""SEEDS-GEE: CRPS and spread against network evaluations per member, for both samplers.

    scripts/in-env python benchmarks/sampler_steps.py --checkpoint runs/seeds-gee \
        --source data/prepared/world-operational.zarr --steps 4,8,16,32,64,256

The same members (the same starting noise: each init time seeds its own generator) are
drawn with diffusers' EDM DPM-Solver++(2M), deterministic (``dpmsolver++``) and stochastic
(``sde-dpmsolver++``), at each number of evaluations. For the deterministic sampler the
differences are the solver's discretisation error, not sampling noise; the stochastic one
adds noise at every step, so its members differ from the ODE's at every setting. CRPS and
spread are relative to the deterministic sampler at the most evaluations (the reference).
The goal: the cheapest setting within 1% CRPS and 2% spread of the reference becomes the
default.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from forecast.generate import generate
from forecast.reference_ensembles import held_out
from forecast.scoring.spectra import spectral_ratio, zonal_spectrum
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
    parser.add_argument("--steps", default="4,8,16,32,64,256")
    parser.add_argument("--samplers", default="dpmsolver++,sde-dpmsolver++")
    parser.add_argument("--out", type=Path, default=Path("runs/sampler_steps"))
    args = parser.parse_args()
    inits = [int(i) for i in args.inits.split(",")]
    steps_list = sorted(int(s) for s in args.steps.split(","))
    samplers = args.samplers.split(",")
    results = {}
    # the last row: the reference setting drawn again from other starting noise, the
    # sampling noise of these scores (a stochastic sampler's members are other draws too)
    runs = [(sampler, steps, 0) for sampler in samplers for steps in steps_list]
    runs.append((samplers[0], steps_list[-1], 1))
    for sampler, steps, seed in runs:
        path = args.out / f"{sampler}-{steps}{'-seed1' if seed else ''}.zarr"
        timing = path.with_name(path.name + ".seconds.json")
        start = time.perf_counter()
        made = not path.exists()
        generate(
            args.checkpoint,
            args.source,
            path,
            n_members=args.members,
            inits=inits,
            leads=args.leads.split(","),
            steps=steps,
            sampler=sampler,
            seed=seed,
            progress=False,
        )
        if made:  # a store kept from an earlier run keeps the time it took then
            timing.write_text(json.dumps({"seconds": time.perf_counter() - start}))
        seconds = json.loads(timing.read_text())["seconds"]
        ensemble = open_complete(path)
        _, truth, climatology = held_out(args.source, inits, ensemble["lead_time"].values)
        scores = score_ensemble(
            ensemble[list(truth.data_vars)], truth, climatology=climatology
        ).compute()
        fields = ensemble["z500"].size // ensemble["z500"][0, 0, 0].size
        results[sampler if not seed else f"{sampler} (seed 1)", steps] = {
            "scores": scores,
            # z500 members' zonal spectrum, averaged over members and init times
            "spectrum": zonal_spectrum(ensemble["z500"].load(), average=("member", "init_time")),
            "ms_per_member_field": 1000 * seconds / fields,
        }
        print(f"{sampler} {steps:4d} evaluations, seed {seed}: {seconds:.0f} s", flush=True)
    reference_key = (samplers[0], steps_list[-1])
    reference = results[reference_key]["scores"]
    hours = [int(t / np.timedelta64(1, "h")) for t in reference["lead_time"].values]
    print(
        f"\nrelative to {reference_key[0]} at {reference_key[1]} evaluations; per lead {hours} h: "
        "z500 CRPS | worst |CRPS ratio - 1| | worst |spread ratio - 1| | z500 spread-skill | "
        "z500 small-scale energy (wavenumbers N/8..N/2) | ms per member field"
    )
    report = {"inits": inits, "members": args.members, "lead_hours": hours, "rows": []}
    reference_spectrum = results[reference_key]["spectrum"]
    n_lon = 2 * (reference_spectrum.sizes["wavenumber"] - 1)
    small = {"small": (n_lon // 8, n_lon // 2)}
    for (sampler, steps), result in results.items():
        scores = result["scores"]
        energy = spectral_ratio(result["spectrum"], reference_spectrum, small).sel(band="small")
        crps = scores["crps_nrg"] / reference["crps_nrg"]
        spread = scores["spread"] / reference["spread"]
        worst_crps = float(abs(crps - 1).max())
        worst_spread = float(abs(spread - 1).max())
        row = {
            "sampler": sampler,
            "evaluations": steps,
            "z500_crps_relative": crps.sel(variable="z500").values.tolist(),
            "crps_relative_worst": (1 + worst_crps),
            "spread_relative_worst": (1 + worst_spread),
            "z500_spread_skill": scores["spread_skill"].sel(variable="z500").values.tolist(),
            "z500_small_scale_energy": energy.values.tolist(),
            "ms_per_member_field": result["ms_per_member_field"],
            "within_goal": worst_crps <= 0.01 and worst_spread <= 0.02,
        }
        report["rows"].append(row)
        print(
            f"  {sampler:25s} {steps:4d}  "
            + " ".join(f"{x:6.4f}" for x in row["z500_crps_relative"])
            + f" | {worst_crps:+.2%} | {worst_spread:+.2%} | "
            + " ".join(f"{x:5.3f}" for x in row["z500_spread_skill"])
            + " | "
            + " ".join(f"{x:5.3f}" for x in row["z500_small_scale_energy"])
            + f" | {row['ms_per_member_field']:.0f}"
            + ("  (within 1% CRPS, 2% spread)" if row["within_goal"] else "")
        )
    within = [
        r
        for r in report["rows"]
        if r["within_goal"] and (r["sampler"], r["evaluations"]) != reference_key
    ]
    if within:
        best = min(within, key=lambda r: (r["evaluations"], r["sampler"]))
        report["cheapest_within_goal"] = {k: best[k] for k in ("sampler", "evaluations")}
        print(f"cheapest within the goal: {best['sampler']} at {best['evaluations']} evaluations")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
