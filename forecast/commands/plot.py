"""``forecast plot``: figures from any ensemble file and any score files."""

from __future__ import annotations

import argparse
from pathlib import Path

import xarray as xr

from pipelines import DataError
from pipelines.files import open_ensemble_file
from pipelines.leads import lead_indices
from pipelines.readers import validate

from .options import DEFAULT_RUN, output_path

NAME = "plot"
HELP = "maps of an ensemble and figures of score files"
DESCRIPTION = (
    "Maps (cartopy, offline coastlines) of one forecast of an ensemble store: the truth "
    "when the store carries it, members, ensemble mean and spread, and the probability of "
    "a +2 sigma anomaly next to what happened; and, from score files written by "
    "'forecast score', scores against lead time, rank histograms, reliability diagrams "
    "relative economic value and power spectra (one line per file). Maps of a regional grid are zoomed "
    "to its extent. With no --ensemble and no --scores: the SEEDS-GEE ensemble and "
    "the score files of 'forecast run' (runs/world)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ensemble", type=Path, default=None, metavar="ENS", help="ensemble store")
    parser.add_argument(
        "--scores", type=Path, nargs="+", default=None, metavar="FILE", help="score files"
    )
    parser.add_argument(
        "--variable", default=None, help="variable to draw (default: z500, else the first)"
    )
    parser.add_argument("--init", type=int, default=0, help="init-time index (default 0)")
    parser.add_argument("--lead", default=None, help="lead time, e.g. 120h (default: the last)")
    parser.add_argument("--members", type=int, default=4, help="members to map (default 4)")
    parser.add_argument(
        "--out", type=output_path, default=Path("figures"), help="folder for the PNGs"
    )


def run(args: argparse.Namespace) -> int:
    written = plot_files(
        args.out,
        ensemble=args.ensemble,
        scores=args.scores,
        variable=args.variable,
        init=args.init,
        lead=args.lead,
        members=args.members,
    )
    for path in written:
        print(path)
    return 0


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
    from ..plots import diagnostics, save_figure
    from ..plots.ensemble_maps import ensemble_maps, event_maps
    from ..scoring.summary import headline_events

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
            ds, variable, init=init, lead=at, truth=truth, n_members=members
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
                tables, variable, at, headline_events(variable)
            )
            if all("event_value" in table for table in tables.values()):
                figures[f"economic_value_{variable}"] = diagnostics.value_curves(
                    tables, variable, at, headline_events(variable)
                )
        if all("zonal_spectrum" in table for table in tables.values()):
            figures[f"spectra_{variable}"] = diagnostics.spectra(tables, variable, at)
    return [save_figure(figure, out / f"{name}.png") for name, figure in figures.items()]
