"""What an emulator can know beyond its K seeds: where, when, and how variable it is there.

The seed statistics (:func:`forecast.samples.seed_condition`) say what this forecast's
members look like; these *context* fields say what every forecast at that place and time
looks like, so that one network can learn spread and shrinkage toward climatology that
change with latitude, season and variable. They are extra condition channels (fields on
the grid, as GraphCast feeds time-of-year and local time to every node: Lam et al. 2023,
Science 382, 1416), appended after the 2V seed channels:

- ``position``: the point's unit vector (cos lat cos lon, cos lat sin lon, sin lat), continuous
  across the date line and the poles (3 channels);
- ``time``: sin and cos of the year's progress and of the local solar time at valid time,
  2 pi (day of year) / 365.25 and 2 pi (UTC hour + lon / 15) / 24 (4 channels);
- ``climatology``: ln sigma_clim(valid day, point) per variable, minus its mean over the grid
  (V channels): the local climatological variability the anomalies were divided by, the
  scale of the seeds' departure from climatology. Scale-free, so it means the same on any
  data set;
- ``static``: the prepared store's static fields (orography, land-sea mask: catalog
  ``static``, :mod:`pipelines.static`), each standardised over the grid (one channel each;
  none when the store has none).

A checkpoint records the context it was trained with (:class:`forecast.checkpoint.Checkpoint`);
one made before context existed has none and sees the seed statistics only.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from pipelines.errors import ConfigError

CONTEXTS = ("position", "time", "climatology", "static")
DEFAULT_CONTEXT = CONTEXTS


def parse_context(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The context names of ``value`` (a comma-separated string, ``none``/``""``: none; None:
    the default), in the canonical order; a ConfigError names unknown ones."""
    if value is None:
        return DEFAULT_CONTEXT
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip() for n in names if n.strip() and n.strip() != "none"]
    unknown = sorted(set(names) - set(CONTEXTS))
    if unknown:
        raise ConfigError(f"unknown context {unknown}: choose from {CONTEXTS}, or none")
    return tuple(n for n in CONTEXTS if n in names)


def context_channels(context: Iterable[str], n_vars: int, n_static: int = 0) -> int:
    """Condition channels the ``context`` adds for ``n_vars`` variables and ``n_static``
    static fields."""
    sizes = {"position": 3, "time": 4, "climatology": n_vars, "static": n_static}
    return sum(sizes[name] for name in context)


def position_fields(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(3, H, W): the unit vector of every grid point (degrees in)."""
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def time_fields(valid_time: np.datetime64, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(4, H, W): sin/cos of the year's progress (the same everywhere) and of the local
    solar time (varying with longitude) at ``valid_time``."""
    t = np.datetime64(valid_time, "s")
    year_start = t.astype("datetime64[Y]").astype("datetime64[s]")
    day_start = t.astype("datetime64[D]").astype("datetime64[s]")
    year = 2 * np.pi * ((t - year_start) / np.timedelta64(1, "D")) / 365.25
    hour = (t - day_start) / np.timedelta64(1, "h")
    local = 2 * np.pi * (hour + np.asarray(lon, dtype=np.float64) / 15.0) / 24.0
    shape = (len(lat), len(lon))
    return np.stack(
        [
            np.full(shape, np.sin(year)),
            np.full(shape, np.cos(year)),
            np.broadcast_to(np.sin(local), shape),
            np.broadcast_to(np.cos(local), shape),
        ]
    )


def climatology_fields(std: np.ndarray) -> np.ndarray:
    """(V, H, W): ln of the climatological std (V, H, W) minus its mean over the grid."""
    log_std = np.log(np.maximum(std, 1e-6).astype(np.float64))
    return log_std - log_std.mean(axis=(-2, -1), keepdims=True)


def standardised_static(static: np.ndarray) -> np.ndarray:
    """(S, H, W) static fields, each minus its mean over the grid and divided by its std
    there (a constant field gives zeros)."""
    static = static.astype(np.float64)
    centred = static - static.mean(axis=(-2, -1), keepdims=True)
    std = centred.std(axis=(-2, -1), keepdims=True)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


class ContextFields:
    """The ``context`` fields on one grid, always in the canonical order of
    :data:`CONTEXTS` (the order a checkpoint's channels were trained in); what does not
    change with time (position, the standardised static fields (S, H, W)) is made once."""

    def __init__(
        self,
        context: Iterable[str],
        lat: np.ndarray,
        lon: np.ndarray,
        static: np.ndarray | None = None,
    ) -> None:
        self.context = parse_context(tuple(context))
        self.lat, self.lon = lat, lon
        self.position = position_fields(lat, lon) if "position" in self.context else None
        with_static = "static" in self.context and static is not None and len(static)
        self.static = standardised_static(static) if with_static else None

    def at(self, valid_times: np.ndarray, climatological_std: np.ndarray | None) -> np.ndarray:
        """(N, C, H, W) float32 at N ``valid_times``, with the climatological std (N, V, H, W)
        there (needed for ``climatology`` only); C = :func:`context_channels`."""
        n = len(valid_times)
        parts = []
        if self.position is not None:
            parts.append(np.broadcast_to(self.position, (n, *self.position.shape)))
        if "time" in self.context:
            parts.append(np.stack([time_fields(t, self.lat, self.lon) for t in valid_times]))
        if "climatology" in self.context:
            parts.append(climatology_fields(climatological_std))
        if self.static is not None:
            parts.append(np.broadcast_to(self.static, (n, *self.static.shape)))
        if not parts:
            return np.zeros((n, 0, len(self.lat), len(self.lon)), dtype=np.float32)
        return np.concatenate(parts, axis=1).astype(np.float32)


def context_fields(
    context: Iterable[str],
    lat: np.ndarray,
    lon: np.ndarray,
    valid_times: np.ndarray,
    climatological_std: np.ndarray | None,
    static: np.ndarray | None = None,
) -> np.ndarray:
    """:meth:`ContextFields.at` in one call (the static fields (S, H, W) as stored)."""
    return ContextFields(context, lat, lon, static).at(valid_times, climatological_std)
