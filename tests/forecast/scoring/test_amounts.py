"""Dry fraction and upper percentiles of precipitation amounts."""

import numpy as np
import xarray as xr

from forecast.scoring.amounts import amount_summary, amount_table


def test_summary_of_a_known_mixture():
    # 70% exactly dry, the rest uniform on (0, 10 mm): p95 = 10 mm * (0.95 - 0.7) / 0.3
    rng = np.random.default_rng(0)
    n = 200_000
    wet = rng.random(n) < 0.3
    values = np.where(wet, rng.uniform(0, 1e-2, n), 0.0)
    summary = amount_summary(xr.DataArray(values))
    assert abs(summary["dry_fraction"] - 0.7) < 0.005
    assert abs(summary["p95"] - 1e-2 * 0.25 / 0.3) < 1e-4
    assert abs(summary["p99"] - 1e-2 * 0.29 / 0.3) < 1e-4
    assert summary["negative"] == 0.0


def test_table_is_relative_to_the_reference():
    a = xr.DataArray(np.linspace(0, 1e-2, 1001))
    table = amount_table({"physics": a, "model": 2 * a}, "physics")
    lines = table.splitlines()
    assert lines[0].startswith("| ensemble | dry fraction | p95 (mm) | p99 (mm)")
    assert "(+100%)" in lines[3] and "(+" not in lines[2]
