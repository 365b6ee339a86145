"""The space a variable is modelled in: a monotone map of its physical value.

Most variables are modelled as they are. Precipitation is not: it is non-negative,
zero over much of the globe and heavy-tailed, so its standardised anomalies are far
from anything a network's Gaussian noise or a Gaussian climatology describes. It is
modelled as its cube root, y = (x / s)^(1/3) with s = 1 mm: precipitation amounts
are close to cube-root normal (Stidd 1953, Trans. AGU 34, 31-35; power transforms are
the usual way into post-processing's Gaussian models, e.g. Scheuerer & Hamill 2015,
Mon. Wea. Rev. 143, 4578-4596). The inverse x = s max(y, 0)^3 returns every value
non-negative and anything at or below zero exactly dry.

Why a power and not the logarithm ln(1 + x / s) (the first choice here; measured in
benchmarks/RESULTS.md, "Precipitation's model space"): near zero the cube root is
steep, so a network's error of a few tenths at a point that is surely dry stays below
0.01 mm instead of becoming drizzle; far out it is flat, so an error of a few units
where it rains is a factor (1 + d / y)^3, not e^d: the log's largest generated amounts
were metres.

The prepared store's ``/climatology`` of a transformed variable is in model space and
says so in its ``transform`` attribute; everything else in a store is physical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import xarray as xr

from .errors import DataError

TRANSFORM_ATTR = "transform"
PHYSICAL = "physical units"  # the space of a variable modelled as it is
Values = TypeVar("Values", np.ndarray, xr.DataArray, xr.Dataset)


@dataclass(frozen=True)
class Power:
    """y = (max(x, 0) / scale) ** exponent and back, x = scale max(y, 0) ** (1 / exponent);
    x and ``scale`` in ``units``."""

    scale: float
    units: str
    exponent: float

    @property
    def description(self) -> str:
        return f"(x / {self.scale:g}) ** {self.exponent:.6g}"

    def forward(self, x: Values) -> Values:
        return (np.maximum(x, 0) / self.scale) ** self.exponent

    def inverse(self, y: Values) -> Values:
        return self.scale * np.maximum(y, 0) ** (1 / self.exponent)


# short name -> transform (tp in m: the scale is 1 mm)
TRANSFORMS: dict[str, Power] = {"tp": Power(1e-3, "m", 1 / 3)}


def transform_of(name: str) -> Power | None:
    """The transform of a variable's short name, or None when it is modelled as it is."""
    return TRANSFORMS.get(name)


def to_model_space(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with each transformed variable mapped forward (lazy on dask), labelled."""
    changed = {}
    for name, da in ds.data_vars.items():
        if (transform := transform_of(str(name))) is not None:
            attrs = {**da.attrs, TRANSFORM_ATTR: transform.description, "units": "1"}
            changed[name] = transform.forward(da).astype(da.dtype).assign_attrs(attrs)
    return ds.assign(changed) if changed else ds


def from_model_space(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with each transformed variable mapped back to physical values (>= 0)."""
    changed = {}
    for name, da in ds.data_vars.items():
        if (transform := transform_of(str(name))) is not None:
            attrs = {k: v for k, v in da.attrs.items() if k != TRANSFORM_ATTR}
            attrs["units"] = transform.units
            back = transform.inverse(da).astype(da.dtype)
            back.attrs = attrs
            changed[name] = back
    return ds.assign(changed) if changed else ds


def stacked_from_model_space(values: np.ndarray, names: list[str], axis: int) -> np.ndarray:
    """Variables stacked along ``axis`` (in ``names``' order) mapped back, in place."""
    for index, name in enumerate(names):
        if (transform := transform_of(name)) is not None:
            where = [slice(None)] * values.ndim
            where[axis] = index
            values[tuple(where)] = transform.inverse(values[tuple(where)])
    return values


def is_model_space(da: xr.DataArray) -> bool:
    """Whether a climatology variable is stored in model space."""
    return TRANSFORM_ATTR in da.attrs


def space_of(name: str) -> str:
    """The space forecast models a variable in now: its transform, or physical units."""
    transform = transform_of(name)
    return transform.description if transform is not None else PHYSICAL


def stale_spaces(clim: xr.Dataset, names: list[str]) -> dict[str, tuple[str, str]]:
    """name -> (the space its stored climatology is in, the space forecast models it in
    now), for each of ``names`` where they differ (a store prepared before)."""
    stale = {}
    for name in names:
        stored = clim[name].attrs.get(TRANSFORM_ATTR, PHYSICAL)
        if stored != (now := space_of(name)):
            stale[name] = (stored, now)
    return stale


def stale_space_error(stale: dict[str, tuple[str, str]], source: str | None = None) -> DataError:
    """The error that refuses a store whose climatology is in another space (``stale``
    from :func:`stale_spaces`), naming both spaces of each variable."""
    spaces = ", ".join(f"{name} in {stored}" for name, (stored, _) in stale.items())
    now = ", ".join(f"{name} in {wanted}" for name, (_, wanted) in stale.items())
    return DataError(
        f"its climatology has {spaces}: the store was prepared before forecast modelled "
        f"them as it does now ({now}); prepare it again (forecast prepare ... --overwrite)",
        source,
    )


def climatological_value(clim: xr.DataArray, z: float | xr.DataArray) -> xr.DataArray:
    """mu + z sigma of a climatology variable (statistic, ...) in physical values: the
    climatological Gaussian's z-quantile, mapped back where the climatology is in model
    space (there a quantile of the climatology's censored, skewed distribution)."""
    value = clim.sel(statistic="mean", drop=True) + z * clim.sel(statistic="std", drop=True)
    if not is_model_space(clim):
        return value
    name = str(clim.name)
    if stale := stale_spaces(xr.Dataset({name: clim}), [name]):
        raise stale_space_error(stale, clim.attrs.get("source"))
    return TRANSFORMS[name].inverse(value)  # in model space now, so it has a transform
