"""Quantile mapping: generated amounts put on the distribution the model was trained toward.

A network trained for a few hundred steps gets the bulk of precipitation right and its
tail wrong: at the quick budget the diffusion models' 99th percentile is a third too
high and VAE-CRPS's 95th a fifth too low (benchmarks/RESULTS.md), errors of a few tenths
in the cube-root space that the cube turns into factors. Empirical quantile mapping, the
usual correction of a model's precipitation distribution (Panofsky & Brier 1968;
Gudmundsson et al. 2012, Hydrol. Earth Syst. Sci. 16, 3383-3390), replaces a generated
value y at lead t by

    y' = F_target,t^-1( F_generated,t(y) ),

both distribution functions estimated after training on training init times: the model
generates members from the seeds of those forecasts, and the target is what its training
targets were drawn from (other members and, with the share ``truth_fraction``, the
reanalysis), pooled over init times and grid points per lead time. It is monotone, so a
member keeps its ranks and its pattern; it works in the variable's model space
(:mod:`pipelines.transforms`), where the generated values are continuous (below zero is
dry) and the target has its dry atom at zero, so the generated dry fraction becomes the
target's. Beyond the outermost levels the correction of the nearest level is carried on
(Boe et al. 2007, Int. J. Climatol. 27, 1643-1655: "constant correction").

Only variables with a transform are mapped (precipitation): for the Gaussian variables
the networks' marginals are already right and a map would only add sampling noise.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from pipelines.transforms import transform_of

# the probability levels of the map: the body every 1%, the upper tail finer (with the
# fit's ~10^5 values per lead time, 0.9995 still rests on ~50)
LEVELS = tuple(
    np.round(
        np.concatenate([np.arange(0.01, 0.99, 0.01), [0.99, 0.993, 0.996, 0.998, 0.999, 0.9995]]), 6
    ).tolist()
)


def mapped_variables(names: list[str] | tuple[str, ...]) -> list[str]:
    """The variables a quantile map corrects: those modelled through a transform."""
    return [name for name in names if transform_of(name) is not None]


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles at ``levels`` of the distribution giving ``values`` the probabilities
    ``weights`` (summing to 1): the smallest v with F(v) >= level (the inverse of the
    empirical distribution function; numpy's ``inverted_cdf`` up to its rounding of level
    times n)."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    # a summed F(v) falls a rounding error short of a level it equals (k/n summed as k
    # times 1/n): without the slack a quantile moves to the next order statistic
    wanted = np.asarray(levels) * cumulative[-1] * (1 - 1e-9)
    positions = np.searchsorted(cumulative, wanted, side="left")
    return values[order][np.minimum(positions, len(values) - 1)]


@dataclass(frozen=True)
class QuantileMap:
    """Per lead time and mapped variable, generated quantiles -> target quantiles at
    :data:`LEVELS`, in model space; what :meth:`apply` interpolates between."""

    variables: tuple[str, ...]
    lead_days: tuple[float, ...]
    levels: tuple[float, ...]
    generated: list[list[list[float]]]  # [lead][variable][level]
    target: list[list[list[float]]]
    inits: int = 0  # init times and members per init time of the fit, for the record
    members: int = 0

    @classmethod
    def from_json(cls, raw: dict) -> QuantileMap:
        return cls(
            variables=tuple(raw["variables"]),
            lead_days=tuple(float(d) for d in raw["lead_days"]),
            levels=tuple(float(p) for p in raw["levels"]),
            generated=raw["generated"],
            target=raw["target"],
            inits=int(raw.get("inits", 0)),
            members=int(raw.get("members", 0)),
        )

    def digest(self) -> str:
        """A short hash of the whole map: outputs made with another map are other outputs."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _lead(self, days: float) -> int:
        return int(np.argmin(np.abs(np.asarray(self.lead_days) - days)))

    def map_values(self, values: np.ndarray, days: float, variable: str) -> np.ndarray:
        """``values`` (model space) of ``variable`` at lead ``days`` (the nearest lead of
        the map) put on the target distribution; beyond the end levels shifted by the end
        levels' correction."""
        lead, v = self._lead(days), self.variables.index(variable)
        generated = np.asarray(self.generated[lead][v], dtype=np.float64)
        target = np.asarray(self.target[lead][v], dtype=np.float64)
        # np.interp needs increasing abscissae: ties (a value the network repeats) keep
        # their first level, so a repeated value maps to one target value
        generated, first = np.unique(generated, return_index=True)
        target = target[first]
        mapped = np.interp(values, generated, target)
        below, above = values < generated[0], values > generated[-1]
        mapped[below] = values[below] + (target[0] - generated[0])
        mapped[above] = values[above] + (target[-1] - generated[-1])
        return mapped.astype(values.dtype)

    def apply(
        self, values: np.ndarray, names: list[str], lead_days: np.ndarray, var_axis: int
    ) -> np.ndarray:
        """``values`` (lead, ..., var at ``var_axis``, ...) in model space with every mapped
        variable in ``names`` put on its target distribution, in place."""
        for name in names:
            if name not in self.variables:
                continue
            v = names.index(name)
            for j, days in enumerate(lead_days):
                where = [slice(None)] * values.ndim
                where[0], where[var_axis] = j, v
                values[tuple(where)] = self.map_values(values[tuple(where)], float(days), name)
        return values


def fit_quantile_map(
    generated: np.ndarray,
    target: np.ndarray,
    target_weights: np.ndarray,
    names: list[str],
    lead_days: np.ndarray,
    inits: int,
    members: int,
) -> QuantileMap:
    """The map from ``generated`` (lead, var, samples) to ``target`` (lead, var, samples)
    with probabilities ``target_weights`` (samples,), both in model space, for the
    variables of ``names`` (stacked in that order) that :func:`mapped_variables` keeps."""
    levels = np.asarray(LEVELS)
    keep = mapped_variables(names)
    uniform = np.full(generated.shape[-1], 1.0 / generated.shape[-1])
    table_generated, table_target = [], []
    for j in range(len(lead_days)):
        row_generated, row_target = [], []
        for name in keep:
            v = names.index(name)
            row_generated.append(
                weighted_quantiles(generated[j, v].astype(np.float64), uniform, levels).tolist()
            )
            row_target.append(
                weighted_quantiles(target[j, v].astype(np.float64), target_weights, levels).tolist()
            )
        table_generated.append(row_generated)
        table_target.append(row_target)
    return QuantileMap(
        variables=tuple(keep),
        lead_days=tuple(float(d) for d in lead_days),
        levels=tuple(LEVELS),
        generated=table_generated,
        target=table_target,
        inits=inits,
        members=members,
    )
