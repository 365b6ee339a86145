"""One lexicon of variable names, units and long names.

Sources call the same field by many names (``z``, ``geopotential``, ``gh`` ...) at
levels held in a dimension. The project calls it by one short name per field and
level (``z500``), in one standard unit, with CF attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import xarray as xr

from .errors import DataError

STANDARD_GRAVITY = 9.80665  # m s-2, WMO


@dataclass(frozen=True)
class Quantity:
    """A physical quantity: its short-name stem, standard unit and CF names."""

    stem: str
    units: str
    long_name: str
    standard_name: str
    on_levels: bool
    aliases: tuple[str, ...]


QUANTITIES: tuple[Quantity, ...] = (
    Quantity("z", "m2 s-2", "geopotential", "geopotential", True, ("z", "geopotential")),
    Quantity(
        "gh",
        "m",
        "geopotential height",
        "geopotential_height",
        True,
        ("gh", "geopotential_height", "zg", "height"),
    ),
    Quantity("t", "K", "temperature", "air_temperature", True, ("t", "temperature", "ta")),
    Quantity(
        "u", "m s-1", "eastward wind", "eastward_wind", True, ("u", "u_component_of_wind", "ua")
    ),
    Quantity(
        "v", "m s-1", "northward wind", "northward_wind", True, ("v", "v_component_of_wind", "va")
    ),
    Quantity(
        "q",
        "kg kg-1",
        "specific humidity",
        "specific_humidity",
        True,
        ("q", "specific_humidity", "hus"),
    ),
    Quantity(
        "vo",
        "s-1",
        "relative vorticity",
        "atmosphere_relative_vorticity",
        True,
        ("vo", "vorticity", "relative_vorticity"),
    ),
    Quantity(
        "t2m",
        "K",
        "2 metre temperature",
        "air_temperature",
        False,
        ("t2m", "2t", "2m_temperature", "tas"),
    ),
    Quantity(
        "u10",
        "m s-1",
        "10 metre eastward wind",
        "eastward_wind",
        False,
        ("u10", "10u", "10m_u_component_of_wind", "uas"),
    ),
    Quantity(
        "v10",
        "m s-1",
        "10 metre northward wind",
        "northward_wind",
        False,
        ("v10", "10v", "10m_v_component_of_wind", "vas"),
    ),
    Quantity(
        "msl",
        "Pa",
        "mean sea level pressure",
        "air_pressure_at_mean_sea_level",
        False,
        ("msl", "prmsl", "mean_sea_level_pressure", "psl"),
    ),
    Quantity(
        "sp",
        "Pa",
        "surface pressure",
        "surface_air_pressure",
        False,
        ("sp", "surface_pressure", "ps"),
    ),
    Quantity(
        "tcwv",
        "kg m-2",
        "total column water vapour",
        "atmosphere_mass_content_of_water_vapor",
        False,
        ("tcwv", "total_column_water_vapour", "pwat", "prw"),
    ),
    Quantity(
        "tp",
        "m",
        "total precipitation",
        "precipitation_amount",
        False,
        ("tp", "total_precipitation"),
    ),
)

_BY_ALIAS = {alias.lower(): q for q in QUANTITIES for alias in q.aliases}
_BY_STEM = {q.stem: q for q in QUANTITIES}
_SHORT_NAME = re.compile(r"^([a-z0-9]+?)(\d+)?$")

# Unit spellings seen in the wild -> (standard unit, scale, offset): standard = x * scale + offset.
_UNIT_ALIASES: dict[str, tuple[str, float, float]] = {
    "m**2 s**-2": ("m2 s-2", 1.0, 0.0),
    "m^2 s^-2": ("m2 s-2", 1.0, 0.0),
    "m2/s2": ("m2 s-2", 1.0, 0.0),
    "gpm": ("m", 1.0, 0.0),
    "m s**-1": ("m s-1", 1.0, 0.0),
    "m/s": ("m s-1", 1.0, 0.0),
    "s**-1": ("s-1", 1.0, 0.0),
    "1/s": ("s-1", 1.0, 0.0),
    "kg kg**-1": ("kg kg-1", 1.0, 0.0),
    "kg/kg": ("kg kg-1", 1.0, 0.0),
    "1": ("kg kg-1", 1.0, 0.0),
    "kg m**-2": ("kg m-2", 1.0, 0.0),
    "kg/m2": ("kg m-2", 1.0, 0.0),
    "kelvin": ("K", 1.0, 0.0),
    "degc": ("K", 1.0, 273.15),
    "degrees_celsius": ("K", 1.0, 273.15),
    "c": ("K", 1.0, 273.15),
    "hpa": ("Pa", 100.0, 0.0),
    "mb": ("Pa", 100.0, 0.0),
    "millibars": ("Pa", 100.0, 0.0),
    "mm": ("m", 1e-3, 0.0),
}


def quantity_for(source_name: str) -> Quantity | None:
    """The quantity a source variable name denotes, or None if the lexicon does not know it."""
    return _BY_ALIAS.get(source_name.lower())


def split_short_name(short_name: str) -> tuple[Quantity, int | None]:
    """Split ``z500`` into (geopotential, 500) and ``t2m`` into (2 m temperature, None)."""
    if short_name in _BY_STEM:
        return _BY_STEM[short_name], None
    match = _SHORT_NAME.match(short_name)
    if match and match.group(1) in _BY_STEM and match.group(2):
        quantity = _BY_STEM[match.group(1)]
        if quantity.on_levels:
            return quantity, int(match.group(2))
    known = ", ".join(q.stem + ("<level>" if q.on_levels else "") for q in QUANTITIES)
    raise DataError(f"unknown variable short name {short_name!r}; the lexicon knows {known}")


def short_name(quantity: Quantity, level: float | None) -> str:
    """The project's name for a quantity at a level: ``z`` at 500 hPa -> ``z500``."""
    if level is None or not quantity.on_levels:
        return quantity.stem
    return f"{quantity.stem}{round(float(level))}"


def cf_attrs(short: str) -> dict[str, str]:
    """CF attributes (units, long_name, standard_name) for a short name."""
    quantity, level = split_short_name(short)
    long_name = quantity.long_name + (f" at {level} hPa" if level is not None else "")
    return {
        "units": quantity.units,
        "long_name": long_name,
        "standard_name": quantity.standard_name,
    }


COORDINATE_ATTRS = {
    "lat": {"units": "degrees_north", "long_name": "latitude"},
    "lon": {"units": "degrees_east", "long_name": "longitude"},
}


def label_cf(ds: xr.Dataset) -> xr.Dataset:
    """Set the CF attributes of ``ds``'s variables (by short name) and of lat/lon, in place."""
    for name in ds.data_vars:
        ds[name].attrs = cf_attrs(str(name))
    for name, attrs in COORDINATE_ATTRS.items():
        if name in ds.coords:
            ds[name].attrs = dict(attrs)
    return ds


def conversion_to_standard(
    quantity: Quantity, units: str | None, source: str
) -> tuple[float, float]:
    """(scale, offset) that bring values in ``units`` to the quantity's standard unit.

    Geopotential given as a height (units of metres) is refused rather than
    silently multiplied by g: the two differ by a factor of about ten and a
    wrong guess corrupts everything downstream. Declare it as ``gh`` instead.
    """
    if units is None or units.strip() == "":
        raise DataError(
            f"variable for {quantity.long_name!r} has no 'units' attribute; "
            f"expected {quantity.units!r}",
            source,
        )
    spelled = units.strip()
    if spelled == quantity.units:
        return 1.0, 0.0
    standard, scale, offset = _UNIT_ALIASES.get(spelled.lower(), (spelled, 1.0, 0.0))
    if standard == quantity.units:
        return scale, offset
    if quantity.stem == "z" and standard == "m":
        raise DataError(
            f"geopotential has units {units!r} (a height); the project expects geopotential "
            "in m2 s-2. If the field is geopotential height, map it to 'gh' in the catalog.",
            source,
        )
    raise DataError(
        f"{quantity.long_name} has units {units!r}, which cannot be converted to "
        f"{quantity.units!r}",
        source,
    )
