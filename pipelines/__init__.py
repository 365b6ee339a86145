"""The data layer: catalog, readers, regridding, alignment, climatology and zarr stores.

Arrows point one way: ``forecast`` may use ``pipelines``; ``pipelines`` never imports
``forecast``.
"""

from . import _library_order  # noqa: F401  (first: see the module)
from .catalog import Catalog, Entry, load_catalog
from .errors import ConfigError, DataError, InputError
from .readers import open_entry

__all__ = [
    "Catalog",
    "ConfigError",
    "DataError",
    "Entry",
    "InputError",
    "load_catalog",
    "open_entry",
]
