"""The figures and text of the ``forecast run`` report."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from pipelines.leads import lead_days
from pipelines.store import open_complete
from pipelines.transforms import transform_of

from .plots import diagnostics
from .plots.ensemble_maps import ensemble_maps, event_maps
from .reference_ensembles import held_out
from .report import write_report
from .scoring.amounts import amount_table
from .scoring.summary import headline_events


def make_report(
    out: Path,
    scores: dict[str, xr.Dataset],
    ensembles: dict[str, Path],
    operational: Path,
    inits: list[int],
    settings,
    training_steps: int,
    costs: dict[str, str],
    seconds: dict[str, float],
) -> Path:
    variable = settings.maps_variable
    first = open_complete(ensembles["seeds-gee"])
    leads = first["lead_time"].values
    physics, truth, climatology = held_out(operational, inits, leads)
    seed_members = physics.isel(member=slice(0, settings.n_seeds))
    last, middle = leads[-1], leads[len(leads) // 2]
    figures = {}
    for model, path in ensembles.items():
        figures[f"maps_{model}"] = ensemble_maps(
            open_complete(path),
            variable,
            lead=last,
            truth=truth,
            seed_members=seed_members,
            n_members=4,
        )
    figures[f"maps_physics_{variable}"] = ensemble_maps(
        physics, variable, lead=last, truth=truth, n_members=4
    )
    figures["extreme_event_seeds-gpp"] = event_maps(
        open_complete(ensembles["seeds-gpp"]), truth, climatology, variable, lead=middle
    )
    variables = list(next(iter(scores.values()))["variable"].values)
    for name in variables:
        figures[f"scores_vs_lead_{name}"] = diagnostics.lead_curves(scores, name)
    figures[f"rank_histograms_{variable}"] = diagnostics.rank_histograms(scores, variable, last)
    figures[f"reliability_{variable}"] = diagnostics.reliability_diagrams(
        scores, variable, middle, headline_events(variable)
    )
    figures[f"economic_value_{variable}"] = diagnostics.value_curves(
        scores, variable, middle, headline_events(variable)
    )
    # the climatological members are mean + z std maps, not weather: no spectrum to compare
    spectra_of = {n: t for n, t in scores.items() if n != "climatology"}
    figures[f"spectra_{variable}"] = diagnostics.spectra(spectra_of, variable, last)
    days = ", ".join(f"{day:g}" for day in lead_days(leads))
    init_times = ", ".join(str(t)[:13] for t in truth["init_time"].values)
    stage_text = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    intro = (
        f"The embedded world ({settings.profile} profile; its truth run is the reanalysis, "
        f"its ensembles have model error). Held-out init times: {init_times}; lead times "
        f"(days): {days}. Each model was trained on the 5-member reforecast ({settings.budget} "
        f"budget, {training_steps} steps) and given the first {settings.n_seeds} members of the 31-member operational "
        f"ensemble as seeds; it generated {settings.n_members} members per init time and lead. "
        f"Scores are cell-area-weighted global means over the held-out init times. "
        f"Stages: {stage_text}."
    )
    notes = [
        "Cost per member: seconds on this machine per member per day of forecast output "
        "(one member field at one lead time); a physics member costs its model integration "
        "for one day, the emulators one sample of the lead time wanted.",
        "With few init times the rank histograms and Brier scores are noisy: read the "
        "differences between ensembles, not the third digit.",
    ]
    for name in (str(v) for v in truth.data_vars if transform_of(str(v))):
        reference = f"physics {physics.sizes['member']}"
        amounts = {reference: physics[name]}
        mapped = []
        for model, path in ensembles.items():
            generated = open_complete(path)
            amounts[model] = generated[name]
            if name in generated.attrs.get("quantile_map", "").split(", "):
                mapped.append(model)
        how = (
            f" Generated {name} of {', '.join(mapped)} is quantile-mapped onto the "
            "distribution of the model's training targets (fitted on training init times "
            "after training; forecast generate --no-quantile-map leaves it as the network "
            "makes it)."
            if mapped
            else ""
        )
        notes.append(
            f"Amounts of {name} (per accumulation interval, pooled over the held-out init "
            "times, lead times, members and grid points; relative to the physics ensemble):"
            f"{how}\n\n" + amount_table(amounts, reference)
        )
    return write_report(
        out,
        scores,
        variables=variables,
        leads=leads,
        costs=costs,
        figures=figures,
        intro=intro,
        notes=notes,
        reference=next((n for n in scores if n.startswith("physics")), None),
    )
