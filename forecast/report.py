"""The run report: a score table in the spirit of the SEEDS paper (Li et al. 2024, Sci. Adv.
10, eadk4489, Table 1), cost per member, and figures, as report.md + PNGs + JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import xarray as xr

from pipelines.leads import days_text, hours_text

from .plots import save_figure
from .scoring.summary import METRICS

COLUMNS = (
    ("members", "members"),
    *((key, METRICS[key]) for key in ("crps_nrg", "crps", "crpss", "rmse", "spread_skill")),
    ("bss_2sigma", "BSS +-2 sigma"),
    ("auc_2sigma", "ROC AUC +-2 sigma"),
    ("rank_reliability_index", METRICS["rank_reliability_index"]),
)
TWO_SIGMA = ["above_2sigma", "below_2sigma"]


def headline_numbers(scores: xr.Dataset, variable: str, lead) -> dict[str, float]:
    """The table's numbers for one ensemble, variable and lead time."""
    point = scores.sel(variable=variable, lead_time=lead)
    numbers = {key: float(point[key]) for key in METRICS if key in point}
    numbers["members"] = int(scores.attrs.get("members", 0))
    if "event" in scores.dims:
        events = point.sel(event=TWO_SIGMA)
        numbers["bss_2sigma"] = float(events["event_brier_skill"].mean())
        numbers["auc_2sigma"] = float(events["event_auc"].mean())
    return numbers


def _cell(key: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if key == "members":
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def score_table(
    scores: Mapping[str, xr.Dataset],
    variable: str,
    leads,
    costs: Mapping[str, str] | None = None,
) -> str:
    """A markdown table: one block of rows (one per ensemble) per lead time."""
    costs = costs or {}
    header = ["lead", "ensemble", *(label for _, label in COLUMNS), "cost per member"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for lead in leads:
        days = days_text(lead)
        for name, table in scores.items():
            numbers = headline_numbers(table, variable, lead)
            cells = [_cell(key, numbers.get(key)) for key, _ in COLUMNS]
            lines.append("| " + " | ".join([days, name, *cells, costs.get(name, "-")]) + " |")
    return "\n".join(lines)


def write_report(
    out: str | Path,
    scores: Mapping[str, xr.Dataset],
    *,
    variables: list[str],
    leads,
    costs: Mapping[str, str],
    figures: Mapping[str, object],
    intro: str,
    notes: list[str] | None = None,
) -> Path:
    """Write ``out/report.md``, ``out/report.json``, one PNG per figure and the scores (netCDF)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        save_figure(figure, out / f"{name}.png")
        figure.clf()
    for name, table in scores.items():
        safe = name.replace(" ", "_").replace("/", "-")
        table.drop_attrs().to_netcdf(out / f"scores_{safe}.nc")
    sections = [f"# Forecast report\n\n{intro}\n"]
    for variable in variables:
        sections.append(f"## {variable}\n\n{score_table(scores, variable, leads, costs)}\n")
    sections.append(
        "CRPS: the standard estimator of the ensemble's empirical distribution (penalises small "
        "ensembles); fair CRPS: the unbiased estimator of the CRPS of the distribution the members "
        "are drawn from. CRPSS: 1 - fair CRPS / CRPS of the day-of-year climatology as a Gaussian. Spread-skill: sqrt((M+1)/M) spread / RMSE (1 = reliable). BSS and ROC "
        "AUC: mean over the +2 sigma and -2 sigma anomaly events of the day-of-year climatology. Rank RI: "
        "reliability index of the rank histogram (sum of |frequency - 1/(M+1)|, 0 = flat).\n"
    )
    if notes:
        sections.append("## Notes\n\n" + "\n".join(f"- {note}" for note in notes) + "\n")
    sections.append("## Figures\n\n" + "\n\n".join(f"![{n}]({n}.png)" for n in figures) + "\n")
    (out / "report.md").write_text("\n".join(sections))
    summary = {
        name: {
            variable: {hours_text(lead): headline_numbers(table, variable, lead) for lead in leads}
            for variable in variables
        }
        for name, table in scores.items()
    }
    (out / "report.json").write_text(
        json.dumps({"scores": summary, "costs": dict(costs)}, indent=1)
    )
    return out / "report.md"
