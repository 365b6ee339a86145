"""The maps a forecaster looks at for one forecast: truth, seeds, members, mean and
spread, and the probability of an extreme event next to what happened."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from pipelines.climatology import climatology_at
from pipelines.leads import days_text
from pipelines.transforms import climatological_value

from .maps import map_panels


def _at(data: xr.Dataset | xr.DataArray, init: int, lead) -> xr.Dataset | xr.DataArray:
    return data.isel(init_time=init).sel(lead_time=lead)


def ensemble_maps(
    ensemble: xr.Dataset,
    variable: str,
    *,
    init: int = 0,
    lead=None,
    truth: xr.Dataset | None = None,
    seed_members: xr.Dataset | None = None,
    n_members: int = 4,
) -> Figure:
    """Truth, ``seed_members``, the first ``n_members`` members, then ensemble mean and spread."""
    lead = ensemble["lead_time"].values[-1] if lead is None else lead
    field = _at(ensemble[variable], init, lead)
    panels: dict[str, xr.DataArray] = {}
    if truth is not None:
        panels["truth"] = _at(truth[variable], init, lead)
    if seed_members is not None:
        for m in range(seed_members.sizes["member"]):
            panels[f"seed {m + 1}"] = _at(seed_members[variable], init, lead).isel(member=m)
    for m in range(min(n_members, field.sizes["member"])):
        panels[f"member {m + 1}"] = field.isel(member=m)
    panels["ensemble mean"] = field.mean("member")
    spread = field.std("member", ddof=1)
    panels["ensemble spread"] = spread
    units = ensemble[variable].attrs.get("units", "")
    init_time = str(ensemble["init_time"].values[init])[:13]
    return map_panels(
        panels,
        columns=4,
        cmap={"ensemble spread": "viridis"},
        limits={"ensemble spread": (0.0, float(spread.max()))},
        units=units,
        title=f"{variable} ({units}), init {init_time}, lead {days_text(lead)}, "
        f"{field.sizes['member']} members",
    )


def event_maps(
    ensemble: xr.Dataset,
    truth: xr.Dataset,
    climatology: xr.Dataset,
    variable: str,
    *,
    init: int = 0,
    lead=None,
    sigmas: float = 2.0,
) -> Figure:
    """P(anomaly > +k sigma) from the members next to whether it happened in the truth."""
    lead = ensemble["lead_time"].values[-1] if lead is None else lead
    field = _at(ensemble[variable], init, lead)
    observed = _at(truth[variable], init, lead)
    valid = ensemble["init_time"].values[init] + np.timedelta64(lead, "ns")
    threshold = climatological_value(
        climatology_at(climatology[variable], xr.DataArray(valid)), sigmas
    )
    probability = (field > threshold).mean("member")
    happened = (observed > threshold).astype(float)
    return map_panels(
        {
            f"P({variable} anomaly > +{sigmas:g} sigma)": probability,
            "happened in the truth": happened,
        },
        columns=2,
        cmap="Reds",
        limits={
            f"P({variable} anomaly > +{sigmas:g} sigma)": (0.0, 1.0),
            "happened in the truth": (0.0, 1.0),
        },
        title=f"extreme {variable}, lead {days_text(lead)}",
    )
