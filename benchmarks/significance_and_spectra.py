"""Is SEEDS-GEE really better or worse than the physics ensemble, and is it as rough?

    scripts/in-env python benchmarks/significance_and_spectra.py --checkpoint runs/seeds-gee \
        --source data/prepared/world-operational.zarr

K seeds of each held-out init time -> N generated members; the generated ensemble, the
seeds alone and the full physics ensemble are scored against the truth, and each is
compared with the physics ensemble init time by init time (``compare_scores``: fair CRPS,
RMSE, Brier score of the +-2 sigma events; circular block bootstrap, 95%). The spectra: the
members' zonal and spherical-harmonic power over the physics members', by band. With
``--halves`` the comparison is also made on each half of the init times, to show how the
verdict depends on the number of cases.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import xarray as xr

from forecast.generate import generate
from forecast.reference_ensembles import held_out
from forecast.scoring import compare_scores, score_ensemble
from forecast.scoring.spectra import DEGREE, spectral_ratio
from pipelines.leads import hours_text
from pipelines.store import open_complete

SCORES = ("crps", "rmse", "brier_2sigma")
VERDICT = {-1: "better", 0: "undecided", 1: "worse"}


def comparison_rows(scores: dict[str, xr.Dataset], variable: str) -> list[dict]:
    physics = scores["physics"]
    rows = []
    for name, table in scores.items():
        if name == "physics":
            continue
        compared = compare_scores(table, physics).sel(variable=variable)
        for score in SCORES:
            for lead in compared["lead_time"].values:
                point = compared.sel(score=score, lead_time=lead)
                rows.append(
                    {
                        "ensemble": name,
                        "score": score,
                        "lead": hours_text(lead),
                        "difference": float(point["difference"]),
                        "low": float(point["low"]),
                        "high": float(point["high"]),
                        "above_zero": float(point["above_zero"]),
                        "block": int(point["block"]),
                        "verdict": VERDICT[int(point["verdict"])],
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/seeds-gee"))
    parser.add_argument("--source", type=Path, default=Path("data/prepared/world-operational.zarr"))
    parser.add_argument("--inits", type=int, default=16, help="the first N held-out init times")
    parser.add_argument("--leads", default="24h,72h,120h,240h")
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--variable", default="z500")
    parser.add_argument("--halves", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("runs/significance_and_spectra"))
    args = parser.parse_args()
    inits = list(range(args.inits))
    path = args.out / "seeds-gee.zarr"
    generate(
        args.checkpoint,
        args.source,
        path,
        n_members=args.members,
        n_seeds=args.seeds,
        inits=inits,
        leads=args.leads.split(","),
        progress=False,
    )
    generated = open_complete(path)
    physics, truth, climatology = held_out(args.source, inits, generated["lead_time"].values)
    variables = list(truth.data_vars)
    ensembles = {
        f"{args.seeds} seeds": physics.isel(member=slice(0, args.seeds)),
        "physics": physics,
        "SEEDS-GEE": generated,
    }
    scores = {
        name: score_ensemble(e[variables], truth, climatology=climatology).compute()
        for name, e in ensembles.items()
    }
    report: dict = {"inits": args.inits, "members": args.members, "seeds": args.seeds}
    report["all"] = comparison_rows(scores, args.variable)
    if args.halves:
        for half, part in (
            ("first half", slice(0, args.inits // 2)),
            ("second half", slice(args.inits // 2, None)),
        ):
            subset = {name: table.isel(init_time=part) for name, table in scores.items()}
            report[half] = comparison_rows(subset, args.variable)
    print(f"{args.variable}: each ensemble against the physics ensemble, {args.inits} init times")
    for key in [k for k in ("all", "first half", "second half") if k in report]:
        print(f"-- {key}")
        for row in report[key]:
            print(
                f"  {row['ensemble']:10s} {row['score']:13s} {row['lead']:>5s} "
                f"{row['difference']:+10.4g} [{row['low']:+10.4g}, {row['high']:+10.4g}] "
                f"P(>0) {row['above_zero']:.3f} block {row['block']}  {row['verdict']}"
            )
    spectra = {}
    physics_table = scores["physics"].sel(variable=args.variable)
    for name in (f"{args.seeds} seeds", "SEEDS-GEE"):
        table = scores[name].sel(variable=args.variable)
        zonal = spectral_ratio(table["zonal_spectrum"], physics_table["zonal_spectrum"])
        spherical = spectral_ratio(
            table["spherical_spectrum"], physics_table["spherical_spectrum"], dim=DEGREE
        )
        truth_zonal = spectral_ratio(table["zonal_spectrum"], table["truth_zonal_spectrum"])
        spectra[name] = {  # rows: lead times, columns: bands
            "zonal_over_physics": zonal.transpose("lead_time", "band").values.round(3).tolist(),
            "spherical_over_physics": spherical.transpose("lead_time", "band")
            .values.round(3)
            .tolist(),
            "zonal_over_truth": truth_zonal.transpose("lead_time", "band").values.round(3).tolist(),
        }
    report["spectra"] = spectra
    report["leads"] = [hours_text(t) for t in generated["lead_time"].values]
    report["bands"] = [str(band) for band in zonal["band"].values]
    print(
        f"power over the physics members' (or the truth's) per band {report['bands']}, "
        f"lead by lead ({', '.join(report['leads'])})"
    )
    for name, ratios in spectra.items():
        for kind, rows in ratios.items():
            cells = " | ".join(" ".join(f"{v:6.3f}" for v in row) for row in rows)
            print(f"  {name:10s} {kind:23s} {cells}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
