"""The distribution of amounts of a non-negative variable (precipitation): how often it is
dry and how heavy its upper tail is, pooled over every member, time and grid point.

Generated precipitation has to reproduce the physics ensemble's dry fraction and upper
percentiles, not just score well: a blurred ensemble drizzles everywhere (too few dry
points) and misses the heavy tail (too low a 99th percentile).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

DRY = 1e-5  # m: less than 0.01 mm in the accumulation interval counts as dry
QUANTILES = (0.95, 0.99)


def amount_summary(
    amounts: xr.DataArray, dry: float = DRY, quantiles: tuple[float, ...] = QUANTILES
) -> dict[str, float]:
    """Dry fraction (amount < ``dry``), the pooled ``quantiles`` and the share of negative
    values of every finite value in ``amounts``; unweighted (every grid point counts once,
    the same for every ensemble compared)."""
    values = np.asarray(amounts.values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    summary = {"dry_fraction": float((values < dry).mean()), "negative": float((values < 0).mean())}
    for q in quantiles:
        summary[f"p{round(q * 100)}"] = float(np.quantile(values, q))
    return summary


def amount_table(
    ensembles: dict[str, xr.DataArray], reference: str, scale: float = 1e3, unit: str = "mm"
) -> str:
    """A markdown table of :func:`amount_summary` per ensemble, percentiles in ``unit``
    (``scale`` times the stored unit) and relative to the ``reference`` ensemble's."""
    summaries = {name: amount_summary(da) for name, da in ensembles.items()}
    base = summaries[reference]
    keys = [k for k in base if k.startswith("p")]
    header = ["ensemble", "dry fraction", *(f"{k} ({unit})" for k in keys), "negative"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, summary in summaries.items():
        cells = [name, f"{summary['dry_fraction']:.3f}"]
        for key in keys:
            value = summary[key] * scale
            relative = summary[key] / base[key] - 1 if base[key] > 0 else float("nan")
            cells.append(f"{value:.3g}" + ("" if name == reference else f" ({relative:+.0%})"))
        cells.append(f"{summary['negative']:.3f}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
