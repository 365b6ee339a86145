"""``forecast score``: an ensemble file and a truth -> scores on disk and a table on screen."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from .options import DEFAULT_OUT, add_catalog, add_quiet, add_scheduler, output_path

if TYPE_CHECKING:  # imported where used: `forecast --help` loads no scoring machinery
    import xarray as xr

NAME = "score"
HELP = "score an ensemble against the truth: CRPS, reliability, extremes"
DESCRIPTION = (
    "Score an ensemble (zarr or netCDF with init_time, lead_time, member, lat, lon) against "
    "a reanalysis at valid time: CRPS (fair and standard) and CRPSS against climatology, "
    "ensemble-mean RMSE, spread, spread-skill ratio, rank histogram and its flatness, the "
    "energy score and (regions up to 1024 points) the variogram score, and for extreme "
    "events (+-2 and +-3 sigma anomalies, 5th/95th climatological percentiles) the Brier "
    "score, Brier skill score, ROC area and relative economic value; on global grids, zonal "
    "and spherical-harmonic power spectra of members and truth and their ratio by "
    "wavenumber band. Averages use cell-area weights over --region. With --baseline, "
    "each of fair CRPS, RMSE and the Brier scores is compared case by case with the "
    "baseline's on the init times both have (a circular block bootstrap over init times): "
    "better, worse or undecided at 95%. "
    "Writes OUT (netCDF, or zarr if OUT ends in .zarr) and OUT with a .json suffix, and "
    "prints a table per variable and lead time."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--forecast",
        type=Path,
        default=DEFAULT_OUT / "world-operational.zarr",
        metavar="ENS",
        help="the ensemble to score (default: the prepared world's operational ensemble, "
        f"{DEFAULT_OUT / 'world-operational.zarr'}, made by 'forecast prepare')",
    )
    parser.add_argument(
        "--truth",
        default=None,
        metavar="ENTRY",
        help="catalog entry of the reanalysis to verify against (default: the /truth group of a prepared forecast store)",
    )
    parser.add_argument(
        "--climatology",
        type=Path,
        default=None,
        metavar="STORE",
        help="prepared reanalysis store whose climatology defines extreme events "
        "(default: the forecast store's /climatology, else computed from --truth)",
    )
    add_catalog(parser)
    parser.add_argument(
        "--out",
        type=output_path,
        default=Path("scores.nc"),
        help="output file (default: scores.nc)",
    )
    parser.add_argument(
        "--region",
        default="global",
        help="global, tropics, nh-extratropics, sh-extratropics, or a box 'lat_min,lat_max,lon_min,lon_max'",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="FILE",
        help="compare with another ensemble (scored here against the same truth) or with "
        "its score file from 'forecast score'",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for breaking rank ties and for the bootstrap (default: 0)",
    )
    add_scheduler(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    from pipelines import load_catalog
    from pipelines.cluster import dask_scheduler, local_input_bytes
    from pipelines.remote import is_url, reading

    inputs = [args.forecast]
    if args.truth:
        inputs.append(load_catalog(args.catalog)[args.truth].path)
    remote_truth = next((str(p) for p in inputs if is_url(p)), None)
    with (
        dask_scheduler(args.scheduler, local_input_bytes(inputs)) as where,
        reading(remote_truth) if remote_truth else nullcontext(),
    ):
        if not args.quiet:
            print(f"computing on {where}", flush=True)
        _, table = score_file(
            args.forecast,
            args.truth,
            args.climatology,
            args.out,
            catalog_path=args.catalog,
            region=args.region,
            seed=args.seed,
            progress=not args.quiet,
            baseline=args.baseline,
        )
    print(table)
    print(f"scores: {args.out} and {args.out.with_suffix('.json')}")
    return 0


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
    from pipelines import DataError, load_catalog, open_entry
    from pipelines.align import truth_on_forecast_grid
    from pipelines.climatology import daily_climatology
    from pipelines.files import open_ensemble_file
    from pipelines.readers import validate
    from pipelines.transforms import to_model_space

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
        truth, sample = truth_on_forecast_grid(
            forecast, open_entry(entry), source=entry.path, every_variable=False, notice=notice
        )
        forecast = forecast[list(truth.data_vars)]
        climatology = daily_climatology(to_model_space(sample))
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


def write_scores(scores: xr.Dataset, out: Path, rows: list[dict] | None = None) -> Path:
    """Write scores to netCDF (or zarr for a ``.zarr`` path) via a temporary path, plus
    ``.json`` with ``rows`` (default: :func:`~forecast.scoring.summary.table_rows`)."""
    from pipelines import DataError

    from ..scoring.summary import table_rows

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
        json.dumps({"attrs": _plain(scores.attrs), "rows": rows or table_rows(scores)}, indent=1)
    )
    return json_path


def _plain(attrs: dict) -> dict:
    return {k: (v if isinstance(v, str | int | float) else str(v)) for k, v in attrs.items()}


SCREEN_METRICS = ("crps", "crpss", "rmse", "spread", "spread_skill", "rank_chi2")  # of METRICS
SCREEN_EXTRA = (
    "spectral_ratio_small",
    "above_2sigma_brier_skill",
    "above_2sigma_auc",
    "below_2sigma_brier_skill",
    "crps_vs_baseline",
    "rmse_vs_baseline",
    "brier_2sigma_vs_baseline",
)


def format_table(rows: list[dict]) -> str:
    """A fixed-width table: variable, lead time, and the headline scores."""
    columns = ["variable", "lead_time", *SCREEN_METRICS]
    extra = [k for k in SCREEN_EXTRA if rows and k in rows[0]]
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


def score_file(
    forecast_path: Path,
    truth_entry: str | None,
    climatology_path: Path | None,
    out: Path,
    *,
    catalog_path: Path | None = None,
    region: str = "global",
    seed: int = 0,
    progress: bool = True,
    baseline: Path | None = None,
) -> tuple[xr.Dataset, str]:
    """Score the ensemble file ``forecast_path`` (see :func:`load_inputs` for the truth and
    climatology), compared with ``baseline`` (an ensemble or its score file) if given,
    write the scores to ``out`` and return them with their printed table."""
    from ..scoring.significance import compare_scores
    from ..scoring.summary import score_ensemble, table_rows

    forecast, truth, climatology, sample = load_inputs(
        forecast_path, truth_entry, climatology_path, catalog_path, print if progress else None
    )
    settings = dict(climatology=climatology, percentile_sample=sample, region=region, seed=seed)
    scores = _compute(score_ensemble(forecast, truth, **settings), progress)
    scores.attrs["forecast"] = str(forecast_path)
    if baseline is not None:
        other = _baseline_scores(baseline, truth, settings, progress)
        compared = compare_scores(scores, other, seed=seed)
        scores = scores.merge(compared.rename({v: f"baseline_{v}" for v in compared.data_vars}))
        scores.attrs.update(baseline=str(baseline), baseline_cases=compared.attrs["cases"])
    rows = table_rows(scores)
    write_scores(scores, out, rows)
    return scores, format_table(rows)


def _compute(lazy: xr.Dataset, progress: bool) -> xr.Dataset:
    if not progress:
        return lazy.compute()
    from dask.diagnostics import ProgressBar

    with ProgressBar(minimum=1.0):
        return lazy.compute()


def _baseline_scores(path: Path, truth: xr.Dataset, settings: dict, progress: bool) -> xr.Dataset:
    """The baseline's score table: read from its score file, or scored here against ``truth``."""
    import numpy as np
    import xarray as xr

    from pipelines import DataError
    from pipelines.files import open_ensemble_file
    from pipelines.readers import validate

    from ..scoring.summary import score_ensemble

    if not path.exists():
        raise DataError("no such file", str(path))
    opened = open_ensemble_file(path)
    if "member" not in opened.dims:
        if "crps" not in opened or "variable" not in opened.dims:
            raise DataError(
                "is neither an ensemble nor a score file written by 'forecast score'", str(path)
            )
        region = str(settings["region"])
        if opened.attrs.get("region", region) != region:
            raise DataError(
                f"scores the region {opened.attrs['region']!r}, not {region!r}: score both "
                "over the same region",
                str(path),
            )
        return opened.load()
    ensemble = validate(opened, "ensemble_forecast", str(path))
    shared = [v for v in truth.data_vars if v in ensemble.data_vars]
    if not shared:
        raise DataError(f"has none of the scored variables {sorted(truth.data_vars)}", str(path))
    for axis in ("lat", "lon"):
        theirs, ours = ensemble[axis].values, truth[axis].values
        if theirs.shape != ours.shape or not np.allclose(theirs, ours):
            raise DataError(
                "is not on the scored ensemble's grid; regrid one of them first", str(path)
            )
    ensemble, truth = xr.align(
        ensemble[shared], truth[shared], join="inner", exclude=("lat", "lon")
    )
    if ensemble.sizes["init_time"] == 0 or ensemble.sizes["lead_time"] == 0:
        raise DataError("shares no init time and lead time with the scored ensemble", str(path))
    if progress:
        print(f"scoring the baseline {path}", flush=True)
    return _compute(score_ensemble(ensemble, truth, **settings), progress)
