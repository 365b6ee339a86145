"""``forecast score``: an ensemble file and a truth -> scores on disk and a table on screen."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from pipelines import DataError, load_catalog, open_entry
from pipelines.align import truth_at_valid_time
from pipelines.climatology import daily_climatology
from pipelines.errors import describe
from pipelines.readers import validate
from pipelines.regrid import regrid_conservative
from pipelines.store import is_complete

from .scoring.summary import score_ensemble, table_rows


def open_ensemble_file(path: Path, group: str | None = None) -> xr.Dataset | None:
    """Open a zarr store (or one group) or a netCDF file lazily; None if the group is absent."""
    source = str(path)
    if path.name.endswith(".partial"):
        raise DataError(
            "is an unfinished store; run the command that writes it again to finish it", source
        )
    if not path.exists():
        raise DataError("no such file or directory", source)
    try:
        if path.is_dir():
            if group is not None and not (path / group).exists():
                return None
            ours = is_complete(path)  # our stores are never consolidated
            return xr.open_zarr(path, group=group, chunks={}, consolidated=False if ours else None)
        if group is not None:
            return None
        return xr.open_dataset(path, chunks={})
    except DataError:
        raise
    except Exception as error:
        raise DataError(f"cannot be opened as zarr or netCDF ({describe(error)})", source) from None


def load_inputs(
    forecast_path: Path,
    truth_entry: str | None,
    climatology_path: Path | None,
    catalog_path: Path | None,
    notice: Callable[[str], None] | None = None,
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset | None, xr.Dataset | None]:
    """(forecast, truth at valid time, day-of-year climatology, climatological sample).

    ``notice``: told in one line when the truth is regridded to the forecast's grid.
    """
    forecast = open_ensemble_file(forecast_path)
    forecast = validate(forecast, "ensemble_forecast", str(forecast_path))
    climatology = sample = None
    if truth_entry is not None:
        catalog = load_catalog(catalog_path)
        entry = catalog[truth_entry]
        if entry.role != "reanalysis":
            raise DataError(
                f"--truth must name a reanalysis, and {truth_entry!r} is a {entry.role}",
                str(catalog.path),
            )
        reanalysis = open_entry(entry)
        reanalysis = regrid_conservative(
            reanalysis,
            forecast["lat"].values,
            forecast["lon"].values,
            "the forecast's grid",
            notice=notice,
        )
        shared = [v for v in forecast.data_vars if v in reanalysis.data_vars]
        if not shared:
            raise DataError(
                f"shares no variable with the forecast ({list(forecast.data_vars)})", entry.path
            )
        forecast = forecast[shared]
        truth = truth_at_valid_time(forecast, reanalysis[shared], source=entry.path)
        sample = reanalysis[shared]
        climatology = daily_climatology(sample)
    else:
        truth = open_ensemble_file(forecast_path, "truth")
        if truth is None:
            raise DataError(
                "has no /truth group (it is not a prepared forecast store); name the reanalysis with --truth ENTRY",
                str(forecast_path),
            )
    if climatology_path is not None:
        climatology = open_ensemble_file(climatology_path, "climatology")
        if climatology is None:
            raise DataError(
                "has no /climatology group; give a store written by 'forecast prepare'",
                str(climatology_path),
            )
        root = open_ensemble_file(climatology_path)
        sample = root if "time" in root.dims else None
    elif climatology is None:
        climatology = open_ensemble_file(forecast_path, "climatology")
    return forecast, truth, climatology, sample


def write_scores(scores: xr.Dataset, out: Path) -> Path:
    """Write scores to netCDF (or zarr for a ``.zarr`` path) via a temporary path, plus ``.json``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    try:
        if out.suffix == ".zarr":
            # variable-length strings: the dtype zarr v3 specifies for text labels
            labels = {
                c: scores[c].astype(object) for c in scores.coords if scores[c].dtype.kind == "U"
            }
            scores.assign_coords(labels).to_zarr(tmp, mode="w", zarr_format=3, consolidated=False)
        else:
            scores.to_netcdf(tmp)
        if out.is_dir():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write scores ({error.strerror or error})", str(out)) from None
    json_path = out.with_suffix(".json")
    json_path.write_text(
        json.dumps({"attrs": _plain(scores.attrs), "rows": table_rows(scores)}, indent=1)
    )
    return json_path


def _plain(attrs: dict) -> dict:
    return {k: (v if isinstance(v, str | int | float) else str(v)) for k, v in attrs.items()}


def format_table(rows: list[dict]) -> str:
    """A fixed-width table: variable, lead time, and the headline scores."""
    columns = ["variable", "lead_time", "crps", "rmse", "spread", "spread_skill", "rank_chi2"]
    extra = [
        k
        for k in ("above_2sigma_brier_skill", "above_2sigma_auc", "below_2sigma_brier_skill")
        if rows and k in rows[0]
    ]
    columns += extra
    header = "  ".join(f"{c:>14}" for c in columns)
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            cells.append(
                f"{value:>14.5g}"
                if isinstance(value, float)
                else f"{'-' if value is None else value!s:>14}"
            )
        lines.append("  ".join(cells))
    return "\n".join(lines)


def run_score(
    forecast_path: Path,
    truth_entry: str | None,
    climatology_path: Path | None,
    out: Path,
    *,
    catalog_path: Path | None = None,
    region: str = "global",
    seed: int = 0,
    progress: bool = True,
) -> tuple[xr.Dataset, str]:
    forecast, truth, climatology, sample = load_inputs(
        forecast_path, truth_entry, climatology_path, catalog_path, print if progress else None
    )
    try:
        lazy = score_ensemble(
            forecast,
            truth,
            climatology=climatology,
            percentile_sample=sample,
            region=region,
            seed=seed,
        )
    except ValueError as error:
        raise DataError(str(error), str(forecast_path)) from None
    if progress:
        from dask.diagnostics import ProgressBar

        with ProgressBar(minimum=1.0):
            scores = lazy.compute()
    else:
        scores = lazy.compute()
    scores.attrs["forecast"] = str(forecast_path)
    write_scores(scores, out)
    return scores, format_table(table_rows(scores))
