"""The data catalog: named datasets read from ``data_catalog.yaml``.

An entry needs only ``role``, ``format`` and ``path``::

    era5:
      role: reanalysis            # or ensemble_forecast
      format: zarr                # zarr | netcdf | grib | world
      path: gs://bucket/era5.zarr # local path, glob, or URL (s3://, gs://, http(s)://)
      storage_options: {token: anon}  # remote paths: fsspec filesystem options
      variables: [z500, t850]     # optional: short names, or {short_name: source_name}
      levels: [500, 850]          # optional fixed selections
      members: [0, 1, 2]
      lead_times: [0h, 24h, 48h]
      time: {start: 2020-01-01, end: 2020-12-31}
      truth: era5                 # ensemble forecasts: the reanalysis to verify against
      static:                     # optional: invariant maps, written to /static
        orography: invariants/z.nc                  # a file's only 2-D variable
        land_sea_mask: {path: invariants.grib, variable: lsm}
      options: {...}              # format-specific settings

Relative paths are taken from the catalog file's folder. ``storage_options`` never hold
credentials (refused): those come from the environment (see :mod:`pipelines.remote`).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .errors import ConfigError
from .remote import check_storage_options, is_url

ROLES = ("reanalysis", "ensemble_forecast")
FORMATS = ("zarr", "netcdf", "grib", "world")
_KNOWN_KEYS = {
    "role",
    "format",
    "path",
    "variables",
    "levels",
    "members",
    "lead_times",
    "time",
    "truth",
    "options",
    "description",
    "grid",
    "storage_options",
    "lag_window",
    "static",
}
DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "data_catalog.yaml"


@dataclass(frozen=True)
class Entry:
    """One named dataset of the catalog, validated."""

    name: str
    role: str
    format: str
    path: str
    variables: dict[str, str | None] | None = None
    levels: tuple[float, ...] | None = None
    members: tuple[int, ...] | None = None
    lead_times: tuple[str, ...] | None = None
    time: dict[str, str] | None = None
    truth: str | None = None
    grid: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    storage_options: dict[str, Any] = field(default_factory=dict)
    lag_window: str | None = None
    # name -> {"path": file, "variable": name or None} (see pipelines.static)
    static: dict[str, dict[str, str | None]] = field(default_factory=dict)

    @property
    def is_remote(self) -> bool:
        return is_url(self.path)


def expand_path(path: str) -> list[str]:
    """The local files or folders an entry's ``path`` names: its glob's matches, sorted."""
    return sorted(glob.glob(path)) if glob.has_magic(path) else [path]


@dataclass(frozen=True)
class Catalog:
    """All entries of one catalog file.

    An entry that does not validate is kept in ``broken`` with its error, raised when that
    entry is used: one bad entry does not make the others unusable.
    """

    path: Path
    entries: dict[str, Entry]
    broken: dict[str, ConfigError] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Entry:
        if name in self.broken:
            raise self.broken[name]
        if name not in self.entries:
            known = ", ".join(sorted(self.entries)) or "(none)"
            close = _closest(name, {**self.entries, **self.broken})
            hint = f" Did you mean {close!r}?" if close else ""
            raise ConfigError(
                f"no entry named {name!r}; entries are: {known}.{hint}", str(self.path)
            )
        return self.entries[name]

    def __contains__(self, name: str) -> bool:
        return name in self.entries or name in self.broken

    def expand(self, name: str) -> list[str]:
        """An entry name, or a prefix naming a family (``world`` -> ``world-truth``, ...)."""
        if name in self:
            return [self[name].name]
        family = [n for n in self.entries if n.startswith(name + "-")]
        # reanalyses first: forecasts are verified against them
        return sorted(family, key=lambda n: self.entries[n].role != "reanalysis") or [
            self[name].name
        ]


def _closest(name: str, choices: dict[str, Any]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Read and validate a catalog file (``data_catalog.yaml`` at the repository root by default)."""
    catalog_path = Path(path) if path is not None else DEFAULT_CATALOG
    source = str(catalog_path)
    if not catalog_path.is_file():
        raise ConfigError("catalog file does not exist", source)
    try:
        raw = yaml.safe_load(catalog_path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"not valid YAML{where}: {problem}", source) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("a catalog is a mapping from entry names to entries", source)
    base = catalog_path.resolve().parent
    entries: dict[str, Entry] = {}
    broken: dict[str, ConfigError] = {}
    for name, spec in raw.items():
        try:
            entries[str(name)] = _parse_entry(str(name), spec, base, source)
        except ConfigError as error:
            broken[str(name)] = error
    for entry in list(entries.values()):
        if entry.truth is not None and entry.truth not in entries and entry.truth not in broken:
            broken[entry.name] = ConfigError(
                f"entry {entry.name!r} names truth {entry.truth!r}, which is not in the catalog",
                source,
            )
            del entries[entry.name]
    return Catalog(catalog_path, entries, broken)


def _parse_entry(name: str, spec: Any, base: Path, source: str) -> Entry:
    where = f"{source} [{name}]"
    if not isinstance(spec, dict):
        raise ConfigError("an entry is a mapping with at least role, format and path", where)
    unknown = set(spec) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}; allowed: {sorted(_KNOWN_KEYS)}", where)
    for key in ("role", "format"):
        if key not in spec:
            raise ConfigError(f"missing {key!r}", where)
    role, fmt = spec["role"], spec["format"]
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not one of {ROLES}", where)
    if fmt not in FORMATS:
        raise ConfigError(f"format {fmt!r} is not one of {FORMATS}", where)
    path = spec.get("path")
    if path is None and fmt != "world":
        raise ConfigError("missing 'path'", where)
    path = str(path or "")
    if path and "://" not in path and not os.path.isabs(path):
        path = str(base / path)
    return Entry(
        name=name,
        role=role,
        format=fmt,
        path=path,
        variables=_parse_variables(spec.get("variables"), where),
        levels=_tuple_of(spec.get("levels"), float, "levels", where),
        members=_tuple_of(spec.get("members"), int, "members", where),
        lead_times=_tuple_of(spec.get("lead_times"), str, "lead_times", where),
        time=_parse_time(spec.get("time"), where),
        truth=spec.get("truth"),
        grid=float(spec["grid"]) if spec.get("grid") is not None else None,
        options=dict(spec.get("options") or {}),
        description=str(spec.get("description", "")),
        storage_options=check_storage_options(spec.get("storage_options"), where),
        lag_window=_parse_lag_window(spec.get("lag_window"), role, where),
        static=_parse_static(spec.get("static"), base, where),
    )


def _parse_static(value: Any, base: Path, where: str) -> dict[str, dict[str, str | None]]:
    """``static``: name -> path, or name -> {path, variable}; relative paths from ``base``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            "static is a mapping of names to files, e.g. {orography: invariants/z.nc}", where
        )
    fields = {}
    for name, spec in value.items():
        spec = {"path": spec} if isinstance(spec, str) else spec
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or not isinstance(spec, dict)
            or not isinstance(spec.get("path"), str)
            or set(spec) - {"path", "variable"}
        ):
            raise ConfigError(
                f"static field {name!r}: give a file, or {{path: FILE, variable: NAME}}", where
            )
        path = spec["path"]
        if "://" not in path and not os.path.isabs(path):
            path = str(base / path)
        fields[name] = {"path": path, "variable": spec.get("variable")}
    return fields


def _parse_lag_window(value: Any, role: str, where: str) -> str | None:
    """A positive duration (``48h``, ``7D``) for a time-lagged ensemble forecast."""
    if value is None:
        return None
    if role != "ensemble_forecast":
        raise ConfigError("'lag_window' is for an ensemble_forecast entry", where)
    try:
        window = pd.to_timedelta(str(value))
    except ValueError:
        window = None
    if window is None or pd.isna(window) or window <= pd.Timedelta(0):
        raise ConfigError(
            f"'lag_window' must be a positive duration such as 48h or 7D, got {value!r}", where
        )
    return str(value)


def _parse_variables(value: Any, where: str) -> dict[str, str | None] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return {str(v): None for v in value}
    if isinstance(value, dict):
        return {str(k): (None if v is None else str(v)) for k, v in value.items()}
    raise ConfigError(
        "'variables' is a list of short names or a mapping short_name: source_name", where
    )


def _tuple_of(value: Any, kind: type, key: str, where: str) -> tuple | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        value = [value]
    try:
        return tuple(kind(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{key!r} must be a list of {kind.__name__} values, got {value!r}", where
        ) from None


def _parse_time(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= {"start", "end"}:
        raise ConfigError("'time' is a mapping with 'start' and/or 'end'", where)
    return {k: str(v) for k, v in value.items()}
