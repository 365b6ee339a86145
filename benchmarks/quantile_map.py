"""Generated precipitation with and without the quantile map, side by side.

For each model of a ``forecast run`` folder: the members the run generated (with the
checkpoint's quantile map) and the same members generated again with
``--no-quantile-map`` (same checkpoint, seeds, noise), against the physics ensemble of
the same init times: dry fraction, 95th and 99th percentiles and largest amount (pooled
as in the report), and precipitation's fair CRPS and spread-skill per lead relative to
the physics ensemble's. With ``--refit``, each checkpoint's map is fitted again on its
training store: the seconds it takes, and whether it equals the stored one.

    scripts/in-env python benchmarks/quantile_map.py --run runs/world
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from forecast.calibration import fit_on_training_data
from forecast.checkpoint import load_checkpoint, read_checkpoint
from forecast.generate import generate
from forecast.reference_ensembles import held_out
from forecast.registry import MODEL_NAMES
from forecast.scoring.amounts import amount_summary
from forecast.scoring.summary import score_ensemble
from pipelines.leads import lead_days
from pipelines.store import open_complete


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/world"), help="forecast run folder")
    parser.add_argument("--variable", default="tp")
    parser.add_argument("--refit", action="store_true", help="time the fit and compare maps")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/quantile_map.json"))
    args = parser.parse_args()
    run = json.loads((args.run / "run.json").read_text())
    inits = run["inits"]
    operational = args.run / "prepared" / "world-operational.zarr"
    rows = {}
    physics_scores = None
    for model in MODEL_NAMES:
        mapped_path = args.run / "ensembles" / f"{model}.zarr"
        mapped = open_complete(mapped_path)
        if mapped.attrs.get("quantile_map", "none") == "none":
            raise SystemExit(f"{mapped_path} was generated without a quantile map")
        raw_path = args.run / "ensembles" / f"{model}.no-quantile-map.zarr"
        checkpoint = args.run / "models" / model
        generate(
            checkpoint,
            operational,
            raw_path,
            n_members=mapped.sizes["member"],
            n_seeds=int(mapped.attrs["seeds"]),
            inits=inits,
            leads=run["settings"]["leads"],
            steps=int(mapped.attrs["sampler_steps"]) or None,
            seed=int(mapped.attrs["seed"]),
            quantile_mapping=False,
            overwrite=True,
            progress=False,
        )
        raw = open_complete(raw_path)
        leads = mapped["lead_time"].values
        physics, truth, _ = held_out(operational, inits, leads)
        if physics_scores is None:
            physics_scores = score_ensemble(physics[[args.variable]], truth).compute()
            rows["physics"] = {"amounts": amount_summary(physics[args.variable])}
            rows["physics"]["amounts"]["largest"] = float(physics[args.variable].max())
            rows["physics"]["spread_skill"] = (
                physics_scores["spread_skill"].sel(variable=args.variable).values.tolist()
            )
            rows["physics"]["rank_ri"] = (
                physics_scores["rank_reliability_index"].sel(variable=args.variable).values.tolist()
            )
        fitted = read_checkpoint(checkpoint).quantile_map
        if args.refit:
            network, trained = load_checkpoint(checkpoint)
            start = time.perf_counter()
            again = fit_on_training_data(
                network,
                trained,
                args.run / "prepared" / "world-reforecast.zarr",
                truth_fraction=float(trained.training["truth_fraction"]),
                seed=int(trained.training["seed"]),
                progress=False,
            )
            seconds = time.perf_counter() - start
            print(f"{model}: fit in {seconds:.1f} s; equal to the stored map: {again == fitted}")
        for label, ensemble in (("with map", mapped), ("without map", raw)):
            scores = score_ensemble(ensemble[[args.variable]], truth).compute()
            relative = scores["crps"] / physics_scores["crps"]
            amounts = amount_summary(ensemble[args.variable])
            amounts["largest"] = float(ensemble[args.variable].max())
            rows[f"{model} {label}"] = {
                "amounts": amounts,
                "crps_over_physics": relative.sel(variable=args.variable).values.tolist(),
                "spread_skill": scores["spread_skill"].sel(variable=args.variable).values.tolist(),
                "rank_ri": scores["rank_reliability_index"]
                .sel(variable=args.variable)
                .values.tolist(),
                "fit": f"{fitted.inits} inits x {fitted.members} members",
            }
    physics_amounts = rows["physics"]["amounts"]
    print(f"{args.variable}, {len(inits)} held-out inits, leads (days) {lead_days(leads).tolist()}")
    print(
        "| ensemble | dry fraction | p95 | p99 | largest (mm) | fair CRPS / physics "
        "| spread-skill | rank RI |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        a = row["amounts"]
        cells = [name, f"{a['dry_fraction']:.3f}"]
        for key in ("p95", "p99"):
            change = a[key] / physics_amounts[key] - 1
            cells.append(
                f"{a[key] * 1e3:.3g} mm" + ("" if name == "physics" else f" ({change:+.0%})")
            )
        cells.append(f"{a['largest'] * 1e3:.3g}")
        cells.append(" ".join(f"{v:.2f}" for v in row.get("crps_over_physics", [])) or "1")
        cells.append(" ".join(f"{v:.2f}" for v in row.get("spread_skill", [])) or "")
        cells.append(" ".join(f"{v:.2f}" for v in row.get("rank_ri", [])) or "")
        print("| " + " | ".join(cells) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
