"""Latitude (cell-area) weights and named regions for averaging scores."""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from pipelines.errors import ConfigError
from pipelines.grid import cell_area_weights


@dataclass(frozen=True)
class Region:
    """A latitude/longitude box; longitudes in 0..360, ``lon_min > lon_max`` wraps through 0."""

    name: str
    lat_min: float = -90.0
    lat_max: float = 90.0
    lon_min: float = 0.0
    lon_max: float = 360.0

    def mask(self, lat: xr.DataArray, lon: xr.DataArray) -> xr.DataArray:
        in_lat = (lat >= self.lat_min) & (lat <= self.lat_max)
        if self.lon_min <= self.lon_max:
            in_lon = (lon >= self.lon_min) & (lon <= self.lon_max)
        else:
            in_lon = (lon >= self.lon_min) | (lon <= self.lon_max)
        return in_lat & in_lon


REGIONS = {
    "global": Region("global"),
    "tropics": Region("tropics", -20.0, 20.0),
    "nh-extratropics": Region("nh-extratropics", 20.0, 90.0),
    "sh-extratropics": Region("sh-extratropics", -90.0, -20.0),
}


def region_from_string(text: str) -> Region:
    """A named region, or a box ``lat_min,lat_max,lon_min,lon_max``."""
    if text in REGIONS:
        return REGIONS[text]
    try:
        lat_min, lat_max, lon_min, lon_max = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(
            f"region {text!r} is neither one of {sorted(REGIONS)} nor 'lat_min,lat_max,lon_min,lon_max'"
        ) from None
    return Region(text, lat_min, lat_max, lon_min % 360, lon_max % 360 if lon_max != 360 else 360.0)


def area_weights(data: xr.DataArray | xr.Dataset, region: Region | str = "global") -> xr.DataArray:
    """Cell-area weights on (lat, lon), zero outside ``region``."""
    if isinstance(region, str):
        region = region_from_string(region)
    weights = cell_area_weights(data["lat"])
    mask = region.mask(data["lat"], data["lon"])
    return (weights * mask).astype(float).transpose("lat", "lon")
