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
from .scoring.significance import compare_scores
from .scoring.spectra import spectral_ratio
from .scoring.summary import METRICS, headline_events

COLUMNS = (
    ("members", "members"),
    *((key, METRICS[key]) for key in ("crps_nrg", "crps", "crpss", "rmse", "spread_skill")),
    ("bss_2sigma", "BSS extremes"),
    ("auc_2sigma", "ROC AUC extremes"),
    ("rank_reliability_index", METRICS["rank_reliability_index"]),
    ("energy_small", "small-scale energy / physics"),
)
# cells marked with the paired comparison against the physics ensemble: column -> score
MARKED = {"crps": "crps", "rmse": "rmse", "bss_2sigma": "brier_2sigma"}
MARKS = {-1: " ▲", 0: " ≈", 1: " ▼"}  # better, undecided, worse (the score is lower: better)


def headline_numbers(
    scores: xr.Dataset, variable: str, lead, reference: xr.Dataset | None = None
) -> dict[str, float]:
    """The table's numbers for one ensemble, variable and lead time; with the ``reference``
    (physics) ensemble's scores also its energy at small zonal scales relative to the
    reference's (spectra.BANDS["small"])."""
    point = scores.sel(variable=variable, lead_time=lead)
    numbers = {key: float(point[key]) for key in METRICS if key in point}
    numbers["members"] = int(scores.attrs.get("members", 0))
    if "event" in scores.dims:
        events = point.sel(event=headline_events(variable))
        numbers["bss_2sigma"] = float(events["event_brier_skill"].mean())
        numbers["auc_2sigma"] = float(events["event_auc"].mean())
    if reference is not None and "zonal_spectrum" in point and "zonal_spectrum" in reference:
        other = reference["zonal_spectrum"].sel(variable=variable, lead_time=lead)
        numbers["energy_small"] = float(
            spectral_ratio(point["zonal_spectrum"], other).sel(band="small")
        )
    return numbers


def verdicts_against(
    scores: Mapping[str, xr.Dataset], reference: str | None
) -> dict[str, xr.Dataset]:
    """Each ensemble's paired comparison with the ``reference`` one (see
    :func:`forecast.scoring.compare_scores`), for those with per-case scores."""
    if reference is None or "crps_per_case" not in scores[reference]:
        return {}
    return {
        name: compare_scores(table, scores[reference])
        for name, table in scores.items()
        if name != reference and "crps_per_case" in table
    }


def _cell(key: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if key == "members":
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _mark(compared: xr.Dataset | None, column: str, variable: str, lead) -> str:
    if compared is None or MARKED.get(column) not in compared["score"].values:
        return ""
    verdict = float(
        compared["verdict"].sel(score=MARKED[column], variable=variable, lead_time=lead)
    )
    return "" if math.isnan(verdict) else MARKS[int(verdict)]


def score_table(
    scores: Mapping[str, xr.Dataset],
    variable: str,
    leads,
    costs: Mapping[str, str] | None = None,
    reference: str | None = None,
    verdicts: Mapping[str, xr.Dataset] | None = None,
) -> str:
    """A markdown table: one block of rows (one per ensemble) per lead time; cells of
    :data:`MARKED` columns carry each ensemble's verdict against ``reference``."""
    costs, verdicts = costs or {}, verdicts or {}
    header = ["lead", "ensemble", *(label for _, label in COLUMNS), "cost per member"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    base = scores.get(reference) if reference else None
    for lead in leads:
        days = days_text(lead)
        for name, table in scores.items():
            numbers = headline_numbers(table, variable, lead, base)
            cells = [
                _cell(key, numbers.get(key)) + _mark(verdicts.get(name), key, variable, lead)
                for key, _ in COLUMNS
            ]
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
    reference: str | None = None,
) -> Path:
    """Write ``out/report.md``, ``out/report.json``, one PNG per figure and the scores (netCDF);
    each ensemble is compared with the ``reference`` one (the physics ensemble)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        save_figure(figure, out / f"{name}.png")
        figure.clf()
    for name, table in scores.items():
        safe = name.replace(" ", "_").replace("/", "-")
        table.drop_attrs().to_netcdf(out / f"scores_{safe}.nc")
    verdicts = verdicts_against(scores, reference)
    sections = [f"# Forecast report\n\n{intro}\n"]
    for variable in variables:
        table = score_table(scores, variable, leads, costs, reference, verdicts)
        sections.append(f"## {variable}\n\n{table}\n")
    sections.append(
        "CRPS: the standard estimator of the ensemble's empirical distribution (penalises small "
        "ensembles); fair CRPS: the unbiased estimator of the CRPS of the distribution the members "
        "are drawn from. CRPSS: 1 - fair CRPS / CRPS of the day-of-year climatology as a Gaussian "
        "(for precipitation, the Gaussian of its cube root mapped back). Spread-skill: "
        "sqrt((M+1)/M) spread / RMSE (1 = reliable). BSS and ROC AUC of extremes: mean over the "
        "+2 sigma and -2 sigma anomaly events of the day-of-year climatology (for precipitation, "
        "over its climatological 95th and 99th percentiles). Rank RI: "
        "reliability index of the rank histogram (sum of |frequency - 1/(M+1)|, 0 = flat). "
        "Small-scale energy / physics: the members' zonal power at wavenumbers 11 to a third "
        "of the number of longitudes over the physics members' (1 = as rough, below 1 = "
        "smoother; none on grids of fewer than 33 longitudes).\n"
    )
    if verdicts:
        cases = next(iter(verdicts.values())).attrs["cases"]
        sections.append(
            f"▲ better, ▼ worse, ≈ undecided than {reference} at 95% (fair CRPS, RMSE, and the "
            "Brier score of the +-2 sigma events): the paired differences over the "
            f"{cases} init times, with a circular block bootstrap "
            "(forecast.scoring.compare_scores). With few init times most cells are undecided.\n"
        )
    if notes:
        sections.append("## Notes\n\n" + "\n".join(f"- {note}" for note in notes) + "\n")
    sections.append("## Figures\n\n" + "\n\n".join(f"![{n}]({n}.png)" for n in figures) + "\n")
    (out / "report.md").write_text("\n".join(sections))
    base = scores.get(reference) if reference else None
    summary = {
        name: {
            variable: {
                hours_text(lead): headline_numbers(table, variable, lead, base) for lead in leads
            }
            for variable in variables
        }
        for name, table in scores.items()
    }
    (out / "report.json").write_text(
        json.dumps({"scores": summary, "costs": dict(costs)}, indent=1)
    )
    return out / "report.md"
