"""Figures: cartopy maps drawn offline (:mod:`.maps`, :mod:`.ensemble_maps`) and score
diagnostics (:mod:`.diagnostics`). Everything returns a matplotlib Figure."""

from .diagnostics import lead_curves, rank_histograms, reliability_diagrams
from .ensemble_maps import ensemble_maps, event_maps
from .maps import map_panels, use_offline_shapes

__all__ = [
    "ensemble_maps",
    "event_maps",
    "lead_curves",
    "map_panels",
    "rank_histograms",
    "reliability_diagrams",
    "use_offline_shapes",
]
