"""Prepared forecast stores as training samples for generative ensemble models.

Everything is in standardised anomalies a = (x - mu(doy)) / sigma(doy), with the
day-of-year climatology of the store's reanalysis at each valid time, and x in the
variable's model space (precipitation: its cube root, :mod:`pipelines.transforms`,
where the store's climatology of it is). A sample is:

- ``condition``: per variable the mean and the standard deviation of K seed members
  (K drawn from ``k_range`` per sample; std 0 when K = 1), so one network serves any K;
  then the :mod:`forecast.context` fields of its point, valid time and store;
- ``lead``: lead time in days;
- ``target``: another member of the same ensemble (SEEDS-GEE) or, with probability
  ``truth_fraction``, the reanalysis at valid time (SEEDS-GPP), as a *residual*:
  (y - seed mean) / s(lead, var), with s the rms deviation of members from their
  ensemble mean in the training data (:meth:`AnomalyEnsemble.member_spread`).

Why residuals: a member differs from the seed mean by a small fraction of the
climatological variability at short leads (z500: about 0.15 sigma at day 1 in the world);
learning the whole anomaly, a network's error at reproducing the seed mean becomes
spurious spread. Scaled residuals have about unit variance at every lead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from pipelines.climatology import climatology_at
from pipelines.errors import DataError
from pipelines.leads import lead_days
from pipelines.store import open_complete
from pipelines.transforms import stale_space_error, stale_spaces, to_model_space

from .context import ContextFields


@dataclass
class AnomalyEnsemble:
    """A prepared forecast store in memory, as anomalies: (init, lead, member, var, lat, lon)."""

    anomalies: np.ndarray  # the members (init, lead, member, var, lat, lon)
    truth: np.ndarray | None  # (init, lead, var, lat, lon)
    mean: np.ndarray  # climatological mean at valid time (init, lead, var, lat, lon)
    std: np.ndarray
    variables: list[str]
    coords: dict[str, np.ndarray]
    static: dict[str, np.ndarray] | None = None  # the store's /static fields (lat, lon)

    @classmethod
    def load(cls, store: str | Path, variables: list[str] | None = None) -> AnomalyEnsemble:
        data, clim, names = _open(store, variables)
        at = _climatology_at_valid_time(data, clim, names)
        anomalies, mean, std = _anomalies(data, names, at)
        truth = None
        if Path(store, "truth").exists():
            truth = _standardised(open_complete(store, "truth"), names, mean, std)
        coords = {
            name: data[name].values for name in ("init_time", "lead_time", "member", "lat", "lon")
        }
        return cls(
            anomalies.astype(np.float32),
            None if truth is None else truth.astype(np.float32),
            mean.astype(np.float32),
            std.astype(np.float32),
            names,
            coords,
            read_static(store),
        )

    @property
    def lead_days(self) -> np.ndarray:
        return lead_days(self.coords["lead_time"]).astype(np.float32)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(init times, lead times, members)."""
        return self.anomalies.shape[:3]

    @property
    def has_truth(self) -> bool:
        return self.truth is not None

    def members(self, init: int, lead: int) -> np.ndarray:
        """(member, var, lat, lon) anomalies of one forecast."""
        return self.anomalies[init, lead]

    def truth_at(self, init: int, lead: int) -> np.ndarray:
        """(var, lat, lon): the reanalysis at the forecast's valid time, as anomalies."""
        return self.truth[init, lead]

    def climatological_std(self, init: int, lead: int) -> np.ndarray:
        """(var, lat, lon): the climatological std at the forecast's valid time."""
        return self.std[init, lead]

    def member_spread(self) -> np.ndarray:
        """(lead, var): rms of member minus ensemble mean over inits (:func:`spread_inits`),
        members and grid, with the unbiased 1/(M - 1); at least 1e-3 (lead 0 can have no
        spread)."""
        forecasts = (self.anomalies[init : init + 1] for init in spread_inits(self.shape[0]))
        return _member_spread(forecasts, self.shape[2])


@dataclass(frozen=True)
class ResidualScale:
    """s(lead, var) of the residual parametrisation, as a function of lead time in days."""

    lead_days: list[float]
    scale: list[list[float]]  # [lead][var]

    def at(self, lead_days: np.ndarray) -> np.ndarray:
        """(len(lead_days), var), linear in lead time, constant beyond the ends."""
        table = np.asarray(self.scale, dtype=np.float64)
        columns = [np.interp(lead_days, self.lead_days, table[:, v]) for v in range(table.shape[1])]
        return np.stack(columns, axis=-1).astype(np.float32)


# what one streamed read may decode (all variables' chunks of one forecast)
MAX_CHUNK_BYTES_PER_READ = 512 * 2**20


class StreamedEnsemble:
    """A prepared forecast store read when asked, as anomalies: :class:`AnomalyEnsemble`'s
    sample interface (``shape``, ``members``, ``truth_at``, ``member_spread``...) for
    training, and ``seeds`` (K members of one init time) for generation, with memory
    bounded by the store's chunks, not its size; equal to the bit to the store loaded
    whole.

    Each process opens the store itself on first use (DataLoader workers are separate
    processes), so no file handles or dask state are shared between processes.
    """

    def __init__(self, store: str | Path, variables: list[str] | None = None) -> None:
        self.store = store
        self.has_truth = Path(store, "truth").exists()
        self._opened: tuple[int, xr.Dataset, xr.Dataset, xr.Dataset | None] | None = None
        self._last_climatology: tuple[tuple, tuple[np.ndarray, np.ndarray]] | None = None
        self.variables = variables  # None: all of them, sorted (resolved by the first open)
        self.static = read_static(store)
        data, _, _ = self._groups()
        self.coords = {
            name: data[name].values for name in ("init_time", "lead_time", "member", "lat", "lon")
        }
        # a read decodes whole chunks: one forecast must not touch more than the bound
        touched = sum(
            int(np.prod([max(c) for c in data[v].chunks])) * data[v].dtype.itemsize
            for v in self.variables
            if data[v].chunks
        )
        if touched > MAX_CHUNK_BYTES_PER_READ:
            raise DataError(
                f"a forecast read from it decodes {touched / 2**20:.0f} MB of chunks (more than "
                f"{MAX_CHUNK_BYTES_PER_READ / 2**20:.0f} MB): prepare it again with smaller "
                "chunks, e.g. forecast prepare --chunk-mb 16",
                str(store),
            )

    def _groups(self) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset | None]:
        """The store's members, climatology and truth, opened once per process."""
        if self._opened is None or self._opened[0] != os.getpid():
            data, climatology, self.variables = _open(self.store, self.variables)
            truth = open_complete(self.store, "truth") if self.has_truth else None
            self._opened = (os.getpid(), data, climatology, truth)
        return self._opened[1:]

    def __getstate__(self) -> dict:  # pickled (spawned workers): reopened there
        return {**self.__dict__, "_opened": None, "_last_climatology": None}

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(len(self.coords[n]) for n in ("init_time", "lead_time", "member"))

    @property
    def lead_days(self) -> np.ndarray:
        return lead_days(self.coords["lead_time"]).astype(np.float32)

    def _read(self, group: xr.Dataset, **where) -> xr.Dataset:
        """The variables of ``group`` at ``where`` (positions), read in one computation."""
        return group[self.variables].isel(where).load()

    def _climatology(self, init: int, leads: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Climatological mean and std at the valid times of init ``init`` and ``leads``;
        the last kept, since a sample with a reanalysis target asks twice (members, truth)."""
        key = (init, tuple(leads))
        if self._last_climatology is None or self._last_climatology[0] != key:
            data, climatology, _ = self._groups()
            part = data.isel(init_time=[init], lead_time=leads)  # its coordinates only
            at = _climatology_at_valid_time(part, climatology, self.variables)
            self._last_climatology = (key, at)
        return self._last_climatology[1]

    def members(self, init: int, lead: int) -> np.ndarray:
        data, _, _ = self._groups()
        part = self._read(data, init_time=[init], lead_time=[lead])
        anomalies, _, _ = _anomalies(part, self.variables, self._climatology(init, [lead]))
        return anomalies[0, 0].astype(np.float32)

    def seeds(
        self, init: int, leads: list[int], n_seeds: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(anomalies (lead, K, var, lat, lon), climatological mean and std at valid time
        (lead, var, lat, lon)) of the first ``n_seeds`` members at init time ``init``."""
        data, _, _ = self._groups()
        part = self._read(data, init_time=[init], lead_time=leads, member=slice(0, n_seeds))
        anomalies, mean, std = _anomalies(part, self.variables, self._climatology(init, leads))
        return tuple(a[0].astype(np.float32) for a in (anomalies, mean, std))

    def climatological_std(self, init: int, lead: int) -> np.ndarray:
        return self._climatology(init, [lead])[1][0, 0]

    def truth_at(self, init: int, lead: int) -> np.ndarray:
        _, _, truth = self._groups()
        if truth is None:
            raise DataError("has no /truth group", str(self.store))
        part = self._read(truth, init_time=[init], lead_time=[lead])
        mean, std = self._climatology(init, [lead])
        return _standardised(part, self.variables, mean, std)[0, 0].astype(np.float32)

    def member_spread(self) -> np.ndarray:
        """:meth:`AnomalyEnsemble.member_spread`, reading one init time at a time."""
        data, climatology, _ = self._groups()

        def anomalies(init: int) -> np.ndarray:
            part = self._read(data, init_time=[init])
            at = _climatology_at_valid_time(part, climatology, self.variables)
            return _anomalies(part, self.variables, at)[0]

        return _member_spread(map(anomalies, spread_inits(self.shape[0])), self.shape[2])


def read_static(store: str | Path) -> dict[str, np.ndarray] | None:
    """The store's static fields (name -> (lat, lon) float32, sorted by name: zarr v3 lists a
    group's arrays in no fixed order), None if it has none."""
    if not Path(store, "static").exists():
        return None
    static = open_complete(store, "static")
    names = sorted(str(name) for name in static.data_vars)
    return {name: static[name].transpose("lat", "lon").values for name in names}


def static_array(
    static: dict[str, np.ndarray] | None, names: tuple[str, ...], source: str | None = None
) -> np.ndarray | None:
    """(S, lat, lon): the fields ``names`` of ``static`` (None for none); a DataError names
    missing ones (and the store ``source``)."""
    missing = [n for n in names if n not in (static or {})]
    if missing:
        raise DataError(
            f"has no static fields {missing} (the model was trained with them; add them to "
            "the entry's 'static' in the catalog and prepare it again)",
            source,
        )
    return np.stack([static[n] for n in names]) if names else None


def ensemble_context(
    ensemble: AnomalyEnsemble | StreamedEnsemble,
    context: tuple[str, ...],
    static_names: tuple[str, ...],
    source: str | None = None,
) -> ContextFields:
    """The ``context`` fields on ``ensemble``'s grid with its static fields ``static_names``
    (a DataError naming ``source`` if it lacks any)."""
    static = static_array(ensemble.static, static_names, source)
    return ContextFields(context, ensemble.coords["lat"], ensemble.coords["lon"], static)


def valid_times(coords: dict[str, np.ndarray], init: int, leads: list[int]) -> np.ndarray:
    """The valid times of init time ``init`` at ``leads`` (indices)."""
    return coords["init_time"][init] + coords["lead_time"][leads]


# the member spread is estimated from at most this many init times, evenly spaced: a
# statistic per (lead, variable) over millions of values, which a pass over a terabyte
# store would only delay the first step to refine
SPREAD_INITS = 64


def spread_inits(n_init: int) -> np.ndarray:
    """The init times (indices) the member spread is estimated from: all up to
    ``SPREAD_INITS``, else that many evenly spaced over the record (every season)."""
    return np.unique(np.linspace(0, n_init - 1, min(n_init, SPREAD_INITS)).round().astype(int))


def _member_spread(forecasts: Iterable[np.ndarray], n_members: int) -> np.ndarray:
    """(lead, var): the member spread over ``forecasts`` (each (init, lead, member, var,
    lat, lon) anomalies): the mean squared deviation from the ensemble mean over inits,
    members and grid in float64 sums, unbiased (times M / (M - 1)), its root at least 1e-3
    (lead 0 can have no spread)."""
    total, count = 0.0, 0
    for anomalies in forecasts:
        deviation = anomalies - anomalies.mean(axis=2, keepdims=True)
        total = total + (deviation.astype(np.float64) ** 2).sum(axis=(0, 2, 4, 5))
        count += deviation.size // (deviation.shape[1] * deviation.shape[3])
    variance = total / count * n_members / max(1, n_members - 1)
    return np.maximum(np.sqrt(variance), 1e-3).astype(np.float32)


def _open(
    store: str | Path, variables: list[str] | None
) -> tuple[xr.Dataset, xr.Dataset, list[str]]:
    """The store's members and climatology (lazy) and the variables, checked."""
    data = open_complete(store)
    clim = open_complete(store, "climatology")
    # sorted: zarr v3 lists a group's arrays in no fixed order, and the channel order
    # of the network must not change between runs
    names = variables or sorted(str(v) for v in data.data_vars)
    missing = [v for v in names if v not in data.data_vars]
    if missing:
        raise DataError(f"has no variables {missing}; it has {list(data.data_vars)}", str(store))
    if stale := stale_spaces(clim, names):
        raise stale_space_error(stale, str(store))
    return data, clim, names


def _anomalies(
    data: xr.Dataset, names: list[str], climatology: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(members as anomalies (init, lead, member, var, lat, lon), climatological mean and std
    at valid time (init, lead, var, lat, lon): ``climatology``, what
    :func:`_climatology_at_valid_time` gives for ``data``), in the store's precision."""
    mean, std = climatology
    members = _standardised(data, names, mean[:, :, None], std[:, :, None], member=True)
    return members, mean, std


def _standardised(
    ds: xr.Dataset, names: list[str], mean: np.ndarray, std: np.ndarray, member: bool = False
) -> np.ndarray:
    """(x - mean) / std of ``ds``'s variables in their model space, stacked (init, lead,
    [member], var, lat, lon)."""
    leading = ("init_time", "lead_time", "member") if member else ("init_time", "lead_time")
    return (_stack(to_model_space(ds[names]), names, leading) - mean) / std


def _climatology_at_valid_time(
    data: xr.Dataset, clim: xr.Dataset, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Climatological mean and std (init, lead, var, lat, lon) at the valid times of
    ``data``'s (init, lead) coordinates (no data read), the std at least 1e-6."""
    # read once (one dask computation for every variable and both statistics)
    at = climatology_at(clim[names], data["init_time"] + data["lead_time"]).load()
    mean = _stack(at.sel(statistic="mean", drop=True), names, ("init_time", "lead_time"))
    std = np.maximum(
        _stack(at.sel(statistic="std", drop=True), names, ("init_time", "lead_time")), 1e-6
    )
    return mean, std


def _stack(ds: xr.Dataset, names: list[str], leading: tuple[str, ...]) -> np.ndarray:
    """Variables stacked after the ``leading`` dims, before (lat, lon)."""
    return np.stack(
        [ds[n].transpose(*leading, "lat", "lon").values for n in names], axis=len(leading)
    )


def seed_condition(seeds: torch.Tensor) -> torch.Tensor:
    """(B, K, V, H, W) seed anomalies -> (B, 2V, H, W): their mean and std over K (std 0 for K = 1)."""
    mean = seeds.mean(dim=1)
    std = seeds.std(dim=1, unbiased=True) if seeds.shape[1] > 1 else torch.zeros_like(mean)
    return torch.cat([mean, std], dim=1)


class SeedsSamples(torch.utils.data.Dataset):
    """Random (seeds -> target) samples from an :class:`AnomalyEnsemble`, reproducible per index."""

    def __init__(
        self,
        ensemble: AnomalyEnsemble,
        *,
        k_range: tuple[int, int] = (1, 4),
        truth_fraction: float = 0.0,
        seed: int = 0,
        skip_lead_zero: bool = True,
        context: tuple[str, ...] = (),
    ) -> None:
        """``context``: the :mod:`forecast.context` fields appended to the condition; with
        ``static``, every field of the store's /static group (:attr:`static_names`)."""
        inits, leads, members = ensemble.shape
        if members < 2:
            raise DataError("training needs at least 2 members per forecast (K seeds + 1 target)")
        if truth_fraction > 0 and not ensemble.has_truth:
            raise DataError("SEEDS-GPP needs the reanalysis at valid time (a /truth group)")
        self.ensemble = ensemble
        self.k_low, self.k_high = k_range[0], min(k_range[1], members - 1)
        self.truth_fraction = truth_fraction
        self.seed = seed
        self.context = context
        # the static fields, sorted by name
        self.static_names = tuple(ensemble.static or ()) if "static" in context else ()
        self._context = ensemble_context(ensemble, context, self.static_names)
        self.scale = ensemble.member_spread()  # (lead, var): s of the residual targets
        first_lead = 1 if skip_lead_zero and leads > 1 else 0
        self.pairs = [(i, j) for i in range(inits) for j in range(first_lead, leads)]
        self.epoch = 0

    def context_at(self, init: int, lead: int) -> torch.Tensor:
        """(C, H, W): the :mod:`forecast.context` fields of forecast (init, lead)."""
        std = (
            self.ensemble.climatological_std(init, lead)[None]
            if "climatology" in self.context
            else None
        )
        fields = self._context.at(valid_times(self.ensemble.coords, init, [lead]), std)
        return torch.from_numpy(fields[0])

    def residual_scale(self) -> ResidualScale:
        """The targets' s(lead, var), for generation to undo."""
        return ResidualScale(self.ensemble.lead_days.tolist(), self.scale.tolist())

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        """Sample ``index`` of the current ``epoch``, or of the epoch given with it as
        ``(index, epoch)`` (what a DataLoader's workers, each with its own copy, need)."""
        index, epoch = index if isinstance(index, tuple) else (index, self.epoch)
        rng = np.random.default_rng([self.seed, epoch, index])
        i, j = self.pairs[index]
        pool = self.ensemble.members(i, j)
        k = int(rng.integers(self.k_low, self.k_high + 1))
        chosen = rng.permutation(pool.shape[0])[: k + 1]
        seeds = torch.from_numpy(pool[chosen[:k]])
        if self.truth_fraction > 0 and rng.random() < self.truth_fraction:
            target = self.ensemble.truth_at(i, j)
        else:
            target = pool[chosen[k]]
        residual = (target - pool[chosen[:k]].mean(axis=0)) / self.scale[j][:, None, None]
        return {
            "condition": torch.cat([seed_condition(seeds[None])[0], self.context_at(i, j)]),
            "lead": torch.tensor(self.ensemble.lead_days[j]),
            "target": torch.from_numpy(np.ascontiguousarray(residual, dtype=np.float32)),
        }
