"""Write ``lagged-ensemble.grib``: a small time-lagged ensemble as GloSea or CFS deliver them.

    scripts/in-env python tests/data/make_lagged_grib.py

GRIB 2, individual ensemble forecasts (product definition template 1) on a global
10-degree grid with poles (19 x 36): six start dates a day apart (2021-01-01..06, 00 UTC),
two members each with their own numbers (start date d has members 2d and 2d + 1, so every
number has one start date), steps 0..5 days, z and t at 500 hPa (z ~ 5.5e4 m2 s-2, t ~ 253 K,
a smooth field plus member noise, seeded). cfgrib opens it as a mostly empty
(number x time x step) cube: 12 x 6 start dates with 12 of the 72 cells filled.
"""

from __future__ import annotations

import sys
from pathlib import Path

import eccodes
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared writers
from source_formats import regular_grid_keys

OUT = Path(__file__).with_name("lagged-ensemble.grib")
STARTS = ["20210101", "20210102", "20210103", "20210104", "20210105", "20210106"]
MEMBERS_PER_START = 2
STEPS_H = [0, 24, 48, 72, 96, 120]
PARAMETERS = {"z": (129, 5.5e4, 500.0), "t": (130, 253.0, 4.0)}  # paramId, mean, amplitude


def field(lat: np.ndarray, lon: np.ndarray, mean: float, amplitude: float, phase: float):
    """A smooth wave travelling eastwards, amplitude scaled by cos(latitude)."""
    lon2, lat2 = np.meshgrid(np.deg2rad(lon), np.deg2rad(lat))
    return mean + amplitude * np.cos(lat2) * np.cos(3 * lon2 - phase)


def main() -> None:
    lat, lon = np.linspace(90, -90, 19), np.arange(0, 360, 10.0)
    rng = np.random.default_rng(42)
    sample = eccodes.codes_grib_new_from_samples("regular_ll_pl_grib2")
    grid = regular_grid_keys(lat, lon)
    n_members = MEMBERS_PER_START * len(STARTS)
    with OUT.open("wb") as out:
        for day, start in enumerate(STARTS):
            for k in range(MEMBERS_PER_START):
                number = MEMBERS_PER_START * day + k
                for step in STEPS_H:
                    # the valid day sets the wave's phase: members of different starts agree
                    valid_days = day + step / 24
                    for param, mean, amplitude in PARAMETERS.values():
                        handle = eccodes.codes_clone(sample)
                        for key, value in grid.items():
                            eccodes.codes_set(handle, key, value)
                        eccodes.codes_set(handle, "productDefinitionTemplateNumber", 1)
                        eccodes.codes_set(handle, "typeOfProcessedData", 4)  # ensemble forecast
                        eccodes.codes_set(
                            handle, "typeOfEnsembleForecast", 3
                        )  # positive perturbation
                        eccodes.codes_set(handle, "perturbationNumber", number)
                        eccodes.codes_set(handle, "numberOfForecastsInEnsemble", n_members)
                        eccodes.codes_set(handle, "paramId", param)
                        eccodes.codes_set(handle, "level", 500)
                        eccodes.codes_set(handle, "dataDate", int(start))
                        eccodes.codes_set(handle, "dataTime", 0)
                        eccodes.codes_set(handle, "stepUnits", 1)
                        eccodes.codes_set(handle, "forecastTime", step)
                        values = field(lat, lon, mean, amplitude, 0.5 * valid_days)
                        values = values + 0.02 * amplitude * (1 + step / 24) * rng.standard_normal(
                            values.shape
                        )
                        eccodes.codes_set(handle, "bitsPerValue", 16)
                        eccodes.codes_set_values(handle, values.ravel())
                        eccodes.codes_write(handle, out)
                        eccodes.codes_release(handle)
    eccodes.codes_release(sample)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
