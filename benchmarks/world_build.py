"""The embedded world: build time per profile, and the statistics its ensembles must show.

For each profile and for the perfect-model and model-error settings: wall-clock build
time, truth steadiness (kinetic energy in the first and second halves), operational
ensemble spread and ensemble-mean RMSE of z500 against lead time, the climatological
standard deviation they saturate toward, the reforecast's mean z500 error (bias), the
rms of the time-mean error map at the last lead, and the rank-flatness permutation test
(see forecast.scoring.metrics.exchangeability_chi2). Then the skill the way `forecast
score` reports it: for z500, u500, v500 and tp at days 1-5 and 10 on all held-out
init times, the physics ensemble's CRPSS against the day-of-year climatology of the
truth (fair CRPS; precipitation's climatology in its model space, pipelines.transforms),
spread-skill with its 90% bootstrap interval over init times, and the share of the RMSE
that is a systematic error (the rms over the globe of the mean error over init times,
less its sampling variance, over the RMSE); and precipitation's dry fraction (< 0.01 mm)
and 95th/99th percentiles, truth and members.

    scripts/in-env python benchmarks/world_build.py --profiles tiny default
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from forecast.scoring import score_ensemble
from forecast.scoring.amounts import amount_summary
from forecast.scoring.metrics import exchangeability_chi2
from forecast.scoring.regions import area_weights
from pipelines.climatology import daily_climatology
from pipelines.store import open_complete
from pipelines.transforms import to_model_space
from pipelines.world import WorldSettings, build_world

SKILL_VARIABLES = ("z500", "u500", "v500", "tp")
SKILL_DAYS = (1, 2, 3, 4, 5, 10)


def mean_over(da, dims):
    return da.weighted(area_weights(da)).mean(dims)


def measure(folder: Path) -> dict:
    truth = open_complete(folder / "truth.zarr").load()
    operational = open_complete(folder / "operational.zarr").load()
    reforecast = open_complete(folder / "reforecast.zarr").load()
    kinetic = mean_over(0.5 * (truth.u500**2 + truth.v500**2), ["lat", "lon"]).values
    half = kinetic.size // 2
    at_valid = truth.sel(time=operational.init_time + operational.lead_time).z500
    spread = np.sqrt(mean_over(operational.z500.var("member", ddof=1), ["init_time", "lat", "lon"]))
    rmse = np.sqrt(
        mean_over((operational.z500.mean("member") - at_valid) ** 2, ["init_time", "lat", "lon"])
    )
    error = (
        reforecast.z500.mean("member")
        - truth.sel(time=reforecast.init_time + reforecast.lead_time).z500
    )
    bias = mean_over(error, ["init_time", "lat", "lon"])
    bias_map = error.isel(lead_time=-1).mean(
        "init_time"
    )  # the systematic error pattern at the last lead
    bias_map_rms = float(np.sqrt(mean_over(bias_map**2, ["lat", "lon"])))
    later = operational.isel(lead_time=slice(2, None))
    statistic, null = exchangeability_chi2(
        np.moveaxis(later.z500.values, 2, -1),
        truth.sel(time=later.init_time + later.lead_time).z500.values,
    )
    return {
        "kinetic_energy_halves": [float(kinetic[:half].mean()), float(kinetic[half:].mean())],
        "lead_days": (operational.lead_time.values / np.timedelta64(1, "D")).tolist(),
        "z500_spread": spread.values.round(1).tolist(),
        "z500_rmse": rmse.values.round(1).tolist(),
        "z500_climatological_std": float(
            np.sqrt(mean_over(truth.z500.var("time"), ["lat", "lon"]))
        ),
        "z500_bias_reforecast": bias.values.round(1).tolist(),
        "z500_bias_map_rms_last_lead": bias_map_rms,
        "rank_chi2_truth": statistic,
        "rank_chi2_null_median": float(np.median(null)),
        "rank_chi2_null_95": float(np.quantile(null, 0.95)),
        "skill": skill(truth, operational),
        "precipitation": precipitation(truth, operational),
    }


def skill(truth, operational) -> dict:
    """CRPSS, spread-skill and systematic share of the RMSE per variable and lead day."""
    leads = [
        np.timedelta64(d, "D")
        for d in SKILL_DAYS
        if np.timedelta64(d, "D") in operational.lead_time.values
    ]
    forecast = operational[list(SKILL_VARIABLES)].sel(lead_time=leads)
    at_valid = truth[list(SKILL_VARIABLES)].sel(time=forecast.init_time + forecast.lead_time)
    climatology = daily_climatology(to_model_space(truth[list(SKILL_VARIABLES)]))
    scores = score_ensemble(forecast, at_valid.drop_vars("time"), climatology=climatology).compute()
    out = {}
    for name in SKILL_VARIABLES:
        error = forecast[name].mean("member") - at_valid[name].drop_vars("time")
        n = error.sizes["init_time"]
        systematic = mean_over(
            error.mean("init_time") ** 2 - error.var("init_time", ddof=1) / n, ["lat", "lon"]
        )
        # per init time (the bootstrap's cases); every init weighs the same in the RMSE
        squared_error = mean_over(error**2, ["lat", "lon"])
        rmse = np.sqrt(squared_error.mean("init_time"))
        row = scores.sel(variable=name)
        interval = spread_skill_interval(
            mean_over(forecast[name].var("member", ddof=1), ["lat", "lon"]).values,
            squared_error.values,
            forecast.sizes["member"],
        )
        out[name] = {
            "lead_days": [int(d / np.timedelta64(1, "D")) for d in leads],
            "crpss": row["crpss"].values.round(3).tolist(),
            "spread_skill": row["spread_skill"].values.round(3).tolist(),
            "spread_skill_90": interval.round(3).tolist(),
            "systematic_share": (np.sqrt(np.maximum(systematic, 0)) / rmse)
            .values.round(3)
            .tolist(),
        }
    return out


def spread_skill_interval(
    variance: np.ndarray, squared_error: np.ndarray, members: int, samples: int = 2000
) -> np.ndarray:
    """The 90% percentile-bootstrap interval over init times (axis 0 of the per-case
    area means of the members' variance and the mean's squared error, (init, lead)) of
    sqrt((M + 1) / M <s^2> / <e^2>), the spread-skill ratio: (2, lead). How far from 1
    a reliable ensemble's ratio may fall on this many init times."""
    rng = np.random.default_rng(0)
    cases = rng.integers(0, variance.shape[0], size=(samples, variance.shape[0]))
    ratio = np.sqrt(
        (members + 1) / members * variance[cases].mean(1) / squared_error[cases].mean(1)
    )
    return np.quantile(ratio, [0.05, 0.95], axis=0)


def precipitation(truth, operational) -> dict:
    """Dry fraction and wet-tail percentiles (mm per output interval) of truth and members."""

    def summary(amounts) -> dict:
        described = amount_summary(amounts)
        return {
            "dry_fraction": round(described["dry_fraction"], 3),
            "p95_mm": round(described["p95"] * 1e3, 3),
            "p99_mm": round(described["p99"] * 1e3, 3),
            "max_mm": round(float(amounts.max()) * 1e3, 2),
            "negative": described["negative"],
        }

    return {
        "truth": summary(truth.tp),
        "members": summary(operational.tp.isel(lead_time=slice(1, None))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", nargs="+", default=["tiny", "default"])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "out" / "world_build.json"
    )
    args = parser.parse_args()
    results = []
    for profile in args.profiles:
        for model_error in (False, True):
            cache = Path(tempfile.mkdtemp(prefix="forecast-world-"))
            start = time.perf_counter()
            folder = build_world(
                WorldSettings(profile=profile, model_error=model_error), cache, progress=False
            )
            seconds = time.perf_counter() - start
            row = {
                "profile": profile,
                "model_error": model_error,
                "build_seconds": seconds,
                **measure(folder),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(cache, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
