"""``forecast plot``: figures from any ensemble file and any score files."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from pipelines import DataError
from pipelines.readers import validate

from .generate import lead_indices
from .plots import diagnostics
from .plots.ensemble_maps import ensemble_maps, event_maps
from .score_command import open_ensemble_file

DEFAULT_RUN = Path("runs/world")
DEFAULT_VARIABLE = "z500"  # the headline field; a store without it is drawn by its first


def _lead(ds: xr.Dataset, text: str | None):
    leads = ds["lead_time"].values
    return leads[-1] if text is None else leads[lead_indices(leads, [text])[0]]


def _default_variable(names: list[str]) -> str:
    return DEFAULT_VARIABLE if DEFAULT_VARIABLE in names else names[0]


def plot_files(
    out: Path,
    *,
    ensemble: Path | None = None,
    scores: list[Path] | None = None,
    variable: str | None = None,
    init: int = 0,
    lead: str | None = None,
    members: int = 4,
) -> list[Path]:
    """Maps of one forecast of ``ensemble`` and score figures of ``scores``; returns the PNGs.

    ``variable``: default z500 where there is one, else the ensemble's (or the score
    files') first variable.
    """
    if ensemble is None and not scores:  # the default: what `forecast run` made
        ensemble = DEFAULT_RUN / "ensembles" / "seeds-gee.zarr"
        scores = sorted((DEFAULT_RUN / "report").glob("scores_*.nc"))
        if not ensemble.exists():
            raise DataError(
                "nothing to plot: give --ensemble and/or --scores, or run 'forecast run' first "
                f"(its {ensemble} is the default)"
            )
    figures = {}
    if ensemble is not None:
        ds = validate(open_ensemble_file(ensemble), "ensemble_forecast", str(ensemble))
        variable = variable or _default_variable(list(map(str, ds.data_vars)))
        if variable not in ds.data_vars:
            raise DataError(f"has no {variable!r}; it has {sorted(ds.data_vars)}", str(ensemble))
        if not 0 <= init < ds.sizes["init_time"]:
            raise DataError(f"has {ds.sizes['init_time']} init times; --init {init}", str(ensemble))
        at = _lead(ds, lead)
        truth = open_ensemble_file(ensemble, "truth")
        climatology = open_ensemble_file(ensemble, "climatology")
        figures[f"maps_{variable}"] = ensemble_maps(
            ds, variable, init=init, lead=at, truth=truth, members=members
        )
        if truth is not None and climatology is not None:
            figures[f"extreme_event_{variable}"] = event_maps(
                ds, truth, climatology, variable, init=init, lead=at
            )
    if scores:
        tables = {}
        for path in scores:
            if not path.exists():
                raise DataError("no such file", str(path))
            table = xr.open_dataset(path).load()
            if "crps" not in table or "variable" not in table.dims:
                raise DataError("is not a score file written by 'forecast score'", str(path))
            tables[path.stem] = table
        first = next(iter(tables.values()))
        variable = variable or _default_variable(list(map(str, first["variable"].values)))
        if variable not in first["variable"].values:
            raise DataError(f"scores have no {variable!r}", str(scores[0]))
        at = _lead(first, lead)
        figures[f"scores_vs_lead_{variable}"] = diagnostics.lead_curves(tables, variable)
        figures[f"rank_histograms_{variable}"] = diagnostics.rank_histograms(tables, variable, at)
        if "event" in first.dims:
            figures[f"reliability_{variable}"] = diagnostics.reliability_diagrams(
                tables, variable, at, ["above_2sigma", "below_2sigma"]
            )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, figure in figures.items():
        path = out / f"{name}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        written.append(path)
    return written
