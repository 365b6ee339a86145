"""Lead times: parsing what a user asks for, and the words and numbers they are shown as."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError

HOUR = np.timedelta64(1, "h")
DAY = np.timedelta64(1, "D")


def lead_indices(available: np.ndarray, wanted: list[str] | None) -> list[int]:
    """Indices of the ``wanted`` lead times ("24h", "3D", ...) among ``available`` (all if None)."""
    if wanted is None:
        return list(range(len(available)))
    try:
        values = pd.to_timedelta(wanted).values
    except ValueError as error:
        raise ConfigError(
            f"lead times {wanted} are not durations like 24h or 3D ({error})"
        ) from None
    position = {v: i for i, v in enumerate(available)}
    missing = [w for w, v in zip(wanted, values, strict=True) if v not in position]
    if missing:
        hours = [int(v / HOUR) for v in available]
        raise DataError(f"lead times {missing} are not in the source (it has {hours} h)")
    return [position[v] for v in values]


def lead_days(leads: np.ndarray) -> np.ndarray:
    """Lead times (timedelta64) as float days."""
    return np.asarray(leads) / DAY


def hours_text(lead) -> str:
    """A lead time as hours, the key of tables and JSON: "24h", "4.5h"; other values as str."""
    if isinstance(lead, np.timedelta64):
        return f"{np.timedelta64(lead, 'ns') / HOUR:g}h"
    return str(lead)


def days_text(lead) -> str:
    """A lead time as days, the label of figures and reports: "1 d", "2.5 d"."""
    return f"{np.timedelta64(lead, 'ns') / DAY:g} d"
