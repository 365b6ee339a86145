"""Opening a user's ensemble or score file: a zarr store (or one of its groups) or netCDF."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from .errors import DataError, describe
from .store import is_complete


def open_ensemble_file(path: Path, group: str | None = None) -> xr.Dataset | None:
    """Open a zarr store (or one group) or a netCDF file lazily; None if the group is absent."""
    source = str(path)
    if path.name.endswith(".partial"):
        raise DataError(
            "is an unfinished store; run the command that writes it again to finish it", source
        )
    if not path.exists():
        raise DataError("no such file or directory", source)
    try:
        if path.is_dir():
            if group is not None and not (path / group).exists():
                return None
            ours = is_complete(path)  # our stores are never consolidated
            return xr.open_zarr(path, group=group, chunks={}, consolidated=False if ours else None)
        if group is not None:
            return None
        return xr.open_dataset(path, chunks={})
    except DataError:
        raise
    except Exception as error:
        raise DataError(f"cannot be opened as zarr or netCDF ({describe(error)})", source) from None
