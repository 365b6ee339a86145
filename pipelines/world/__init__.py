"""The embedded world: a forced-dissipative shallow-water model that plays the reanalysis
(its truth run) and physics ensemble forecasts (perturbed, optionally with model error),
so every command has real work to do with no data at all. See :mod:`.build`."""

from .build import (
    COMPONENTS,
    PROFILES,
    WorldSettings,
    build_world,
    open_world,
    physics_member_seconds,
)

__all__ = [
    "COMPONENTS",
    "PROFILES",
    "WorldSettings",
    "build_world",
    "open_world",
    "physics_member_seconds",
]
