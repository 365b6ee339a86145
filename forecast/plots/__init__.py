"""Figures: cartopy maps drawn offline (:mod:`.maps`, :mod:`.ensemble_maps`) and score
diagnostics (:mod:`.diagnostics`). Everything returns a matplotlib Figure."""

from pathlib import Path

from matplotlib.figure import Figure

from .diagnostics import (
    lead_curves,
    rank_histograms,
    reliability_diagrams,
    spectra,
    value_curves,
)
from .ensemble_maps import ensemble_maps, event_maps
from .maps import map_panels, use_offline_shapes


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as the PNG ``path`` (its folder made if needed), the same way for
    every figure of the project: 110 dpi, trimmed to its content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


__all__ = [
    "ensemble_maps",
    "event_maps",
    "lead_curves",
    "map_panels",
    "rank_histograms",
    "reliability_diagrams",
    "save_figure",
    "spectra",
    "use_offline_shapes",
    "value_curves",
]
