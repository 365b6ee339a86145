"""Load pyproj's bundled PROJ before ecCodes' bundled libraries.

The eccodes wheel (via eccodeslib) and the pyproj wheel (used by cartopy for maps) each
ship shared libraries with clashing symbols. When ecCodes is loaded first (cfgrib reads a
GRIB file, or xarray merely lists its backends), a later pyproj/cartopy import makes the
process crash at exit ("free(): invalid pointer", "double free", SIGSEGV) after all the
work is done. Loaded in this order they coexist (checked: GRIB read + map projection, 3 of 3
clean exits against 3 of 3 crashes the other way round). Importing ``pipelines`` does it,
so every command and test process gets the safe order.
"""

try:
    import pyproj  # noqa: F401
except ImportError:  # pragma: no cover - maps are optional for the data layer
    pass
