"""The space a variable is modelled in: a monotone map of its physical value.

Most variables are modelled as they are. Precipitation is not: it is non-negative,
zero over much of the globe and heavy-tailed, so its standardised anomalies are far
from anything a network's Gaussian noise or a Gaussian climatology describes. It is
modelled as y = ln(1 + x / s), with s = 0.1 mm, the usual log-plus-offset of
precipitation post-processing (e.g. Scheuerer & Hamill 2015, Mon. Wea. Rev. 143,
4578-4596, use a power; the offset keeps dry points finite). The inverse
x = s (exp(y) - 1), clamped at zero, makes every value that comes back non-negative,
and a value below the dry point exactly dry.

The prepared store's ``/climatology`` of a transformed variable is in model space and
says so in its ``transform`` attribute; everything else in a store is physical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import xarray as xr

TRANSFORM_ATTR = "transform"
Values = TypeVar("Values", np.ndarray, xr.DataArray)


@dataclass(frozen=True)
class LogOffset:
    """y = ln(1 + max(x, 0) / scale) and back; x in ``units``."""

    scale: float
    units: str

    @property
    def description(self) -> str:
        return f"log1p(x / {self.scale:g})"

    def forward(self, x: Values) -> Values:
        return np.log1p(np.maximum(x, 0) / self.scale)

    def inverse(self, y: Values) -> Values:
        return np.maximum(self.scale * np.expm1(y), 0)


# short name -> transform (tp in m: the scale is 0.1 mm)
TRANSFORMS: dict[str, LogOffset] = {"tp": LogOffset(1e-4, "m")}


def transform_of(name: str) -> LogOffset | None:
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


def climatological_value(clim: xr.DataArray, z: float | xr.DataArray) -> xr.DataArray:
    """mu + z sigma of a climatology variable (statistic, ...) in physical values: the
    climatological Gaussian's z-quantile, mapped back where the climatology is in model
    space (there a quantile of the climatology's censored, skewed distribution)."""
    value = clim.sel(statistic="mean", drop=True) + z * clim.sel(statistic="std", drop=True)
    transform = transform_of(str(clim.name)) if is_model_space(clim) else None
    return value if transform is None else transform.inverse(value)
