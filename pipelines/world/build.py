"""Build the embedded world: a truth run and physics ensembles, written as raw zarr stores.

Three components, each in the project's conventions (lat ascending, lon 0..360,
short names, CF units), cached under a folder named by a fingerprint of the settings:

- ``truth``: the "reanalysis", (time, lat, lon) every ``output_hours``. It is made of
  ``segments`` independent trajectories run side by side in one batch (after a
  spin-up), laid end to end in time, so a year of truth costs a quarter of a year of
  wall-clock steps.
- ``reforecast``: 5 members from many init times (training data);
- ``operational``: 31 members from held-out init times (evaluation).

Ensembles start from the truth: an analysis a = x + e0 and members a + e_i, with
e0, e_i independent draws of the same smooth, balanced perturbation (vorticity, the
geopotential in linear balance with it, and moisture at unchanged relative humidity),
so that the truth and the members are exchangeable (a flat rank histogram in the
perfect model, precipitation's included).
Members replay the truth's known stirring (its innovations come from a generator per
segment and output interval, see :func:`weather_generator`) and carry their own
unknown part. With ``model_error`` the ensembles run with a weaker jet, faster drag
and weaker stirring than the truth (:data:`MODEL_ERROR`): a bias to post-process and
too little spread, as operational ensembles have.

Precipitation ``tp`` (m, as ECMWF's) is the condensation accumulated over the
``output_hours`` before each time; at lead 0 an ensemble carries its analysis's (the
truth's) last accumulation.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from tqdm.auto import tqdm

from .. import lexicon
from ..store import fingerprint, open_complete, write_store
from .model import DAY, Physics, ShallowWater, SharedStirring

START = pd.Timestamp("2000-01-01")
COMPONENTS = ("truth", "reforecast", "operational")


@dataclass(frozen=True)
class Profile:
    """Size and length of a world."""

    nlat: int
    nlon: int
    dt: float  # s
    spinup_days: int
    segments: int  # independent truth trajectories, laid end to end
    segment_days: int
    output_hours: int
    reforecast_inits: int
    reforecast_members: int
    operational_inits: int
    operational_members: int
    lead_days: int
    lead_hours: int  # spacing of output lead times


PROFILES = {
    "tiny": Profile(16, 32, 3600.0, 20, 4, 30, 12, 16, 5, 8, 31, 6, 24),
    "default": Profile(32, 64, 1800.0, 30, 8, 46, 6, 60, 5, 16, 31, 10, 24),
    "large": Profile(64, 128, 900.0, 30, 4, 92, 6, 60, 5, 16, 31, 10, 24),
}

# multipliers applied to the ensembles' physics: a weaker jet, faster drag and weaker eddy
# stirring than the truth's (tuned so that the physics ensemble keeps the skill, the
# underdispersion and the bias of an operational one; benchmarks/RESULTS.md)
MODEL_ERROR = {
    "jet_drop": 0.95,
    "tau_drag_days": 0.85,
    "stirring": 0.9,
}


@dataclass(frozen=True)
class WorldSettings:
    profile: str = "default"
    seed: int = 0
    model_error: bool = True
    perturbation: float = 2.0e-6  # s-1, rms vorticity of initial-condition errors
    device: str = "cpu"  # or "cuda": the model runs batched on either

    def key(self) -> str:
        return fingerprint(
            asdict(self), asdict(PROFILES[self.profile]), Physics().as_dict(), MODEL_ERROR, 3
        )


def ensemble_physics(settings: WorldSettings) -> Physics:
    base = Physics()
    if not settings.model_error:
        return base
    return replace(
        base, **{name: getattr(base, name) * factor for name, factor in MODEL_ERROR.items()}
    )


def _grid_coords(model: ShallowWater) -> dict[str, np.ndarray]:
    lat = np.rad2deg(model.latitudes.numpy())[::-1].copy()  # ascending
    lon = np.rad2deg(model.longitudes.numpy())
    return {"lat": lat, "lon": lon}


def _fields(model: ShallowWater, spec: torch.Tensor, rain: torch.Tensor) -> dict[str, np.ndarray]:
    """Grid fields, south to north, float32; ``rain`` in kg m-2 becomes ``tp`` in m."""
    fields = {**model.to_grid(spec), "tp": rain / 1000.0}
    return {name: value.flip(-2).cpu().numpy().astype(np.float32) for name, value in fields.items()}


def weather_generator(settings: WorldSettings, segment: int, output: int) -> torch.Generator:
    """The generator of the known stirring's innovations over output interval ``output``
    (the one ending at that output time) of truth segment ``segment``: the truth draws
    from it, and every forecast through that interval replays it."""
    state = np.random.SeedSequence([settings.seed, segment, output]).generate_state(1)[0]
    return torch.Generator(device=settings.device).manual_seed(int(state))


def _dataset(data: dict[str, np.ndarray], dims: tuple[str, ...], coords: dict) -> xr.Dataset:
    ds = xr.Dataset({name: (dims, values) for name, values in data.items()}, coords=coords)
    return lexicon.label_cf(ds)


def _perturbation(
    model: ShallowWater,
    spec: torch.Tensor,
    amplitude: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """A balanced initial-condition error for each state of ``spec``: smooth random
    vorticity (spectral, rms ``amplitude`` on the grid) with its balancing geopotential
    and the moisture that keeps the relative humidity (:meth:`ShallowWater.balanced`).

    Vorticity alone is out of balance: it adjusts by radiating gravity waves whose
    divergence lifts saturated air, and the members rained more than the truth in the
    first two days of the perfect-model world (benchmarks/RESULTS.md)."""
    noise = model.stirring_noise(spec.shape[0], generator) / model.physics.stirring * amplitude
    return model.balanced(noise, spec)


def run_truth(
    settings: WorldSettings, progress: bool = True
) -> tuple[xr.Dataset, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The truth run; also returns the spectral states, forcing and last interval's rain at
    every output time."""
    profile = PROFILES[settings.profile]
    model = ShallowWater(profile.nlat, profile.nlon, profile.dt, Physics()).to(settings.device)
    generator = torch.Generator(device=settings.device).manual_seed(settings.seed)
    spec = model.initial_state(profile.segments, generator)
    forcing = model.initial_stirring(profile.segments, generator)
    steps_per_output = round(profile.output_hours * 3600 / profile.dt)
    spin_steps = round(profile.spinup_days * DAY / profile.dt)
    outputs = profile.segment_days * 24 // profile.output_hours
    states, forcings, rains = [], [], []
    with tqdm(
        total=spin_steps + outputs * steps_per_output,
        desc="world truth",
        unit="step",
        disable=not progress,
    ) as bar:
        spec, forcing, _ = model.run(spec, forcing, spin_steps, generator)
        bar.update(spin_steps)
        for output in range(outputs):
            shared = SharedStirring(
                [weather_generator(settings, s, output) for s in range(profile.segments)]
            )
            spec, forcing, rain = model.run(spec, forcing, steps_per_output, generator, shared)
            states.append(spec.clone())
            forcings.append(forcing.clone())
            rains.append(rain)
            bar.update(steps_per_output)
    # (output, segment, ...) -> segment-major time order
    states_t = torch.stack(states, dim=1).reshape(-1, *spec.shape[1:])
    forcings_t = torch.stack(forcings, dim=1).reshape(-1, *forcing.shape[1:])
    rains_t = torch.stack(rains, dim=1).reshape(-1, *rain.shape[1:])
    if not torch.isfinite(states_t).all():
        raise RuntimeError("the world's truth run blew up; use a smaller time step for this grid")
    times = START + pd.to_timedelta(np.arange(states_t.shape[0]) * profile.output_hours, unit="h")
    data = _fields(model, states_t, rains_t)
    truth = _dataset(data, ("time", "lat", "lon"), {"time": times, **_grid_coords(model)})
    return truth, states_t, forcings_t, rains_t


def run_ensemble(
    settings: WorldSettings,
    component: str,
    states: torch.Tensor,
    forcings: torch.Tensor,
    rains: torch.Tensor,
    times: pd.DatetimeIndex,
    progress: bool = True,
) -> xr.Dataset:
    """Ensemble forecasts from truth states at chosen init times."""
    profile = PROFILES[settings.profile]
    model = ShallowWater(profile.nlat, profile.nlon, profile.dt, ensemble_physics(settings)).to(
        settings.device
    )
    per_segment = profile.segment_days * 24 // profile.output_hours
    lead_outputs = profile.lead_days * 24 // profile.lead_hours
    steps_per_output = round(profile.output_hours * 3600 / profile.dt)
    outputs_per_lead = profile.lead_hours // profile.output_hours
    lead_index_span = profile.lead_days * 24 // profile.output_hours
    # init times leave room for the longest lead inside their segment; reforecast from the
    # first part of each segment, operational from the last (held out)
    usable = per_segment - lead_index_span
    split = int(usable * 0.7)
    if component == "reforecast":
        n_inits, members, pool = (
            profile.reforecast_inits,
            profile.reforecast_members,
            range(0, split),
        )
    else:
        n_inits, members, pool = (
            profile.operational_inits,
            profile.operational_members,
            range(split, usable),
        )
    per = max(1, math.ceil(n_inits / profile.segments))
    picks = []
    for segment in range(profile.segments):
        chosen = np.linspace(pool.start, pool.stop - 1, per).round().astype(int)
        picks.extend(segment * per_segment + chosen)
    picks = np.array(sorted(set(picks)))[:n_inits]
    generator = torch.Generator(device=settings.device).manual_seed(
        settings.seed * 1000 + COMPONENTS.index(component)
    )
    init_states = states[torch.as_tensor(picks)]
    analysis = init_states + _perturbation(model, init_states, settings.perturbation, generator)
    spec = analysis.repeat_interleave(members, dim=0)
    spec = spec + _perturbation(model, spec, settings.perturbation, generator)
    forcing = forcings[torch.as_tensor(picks)].repeat_interleave(members, dim=0)
    rain = rains[torch.as_tensor(picks)].repeat_interleave(members, dim=0)
    outputs, accumulations = [spec.clone()], [rain]
    segments, offsets = np.divmod(picks, per_segment)
    for lead in tqdm(
        range(lead_outputs), desc=f"world {component}", unit="lead", disable=not progress
    ):
        for step in range(outputs_per_lead):
            output = offsets + lead * outputs_per_lead + step + 1
            shared = SharedStirring(
                [
                    weather_generator(settings, int(s), int(o))
                    for s, o in zip(segments, output, strict=True)
                ],
                repeats=members,
            )
            spec, forcing, rain = model.run(spec, forcing, steps_per_output, generator, shared)
        outputs.append(spec.clone())
        accumulations.append(rain)
    stacked = torch.stack(outputs, dim=1)  # (init*member, lead, ...)
    if not torch.isfinite(stacked).all():
        raise RuntimeError(f"the world's {component} ensemble blew up")
    flat = stacked.reshape(-1, *stacked.shape[2:])
    flat_rain = torch.stack(accumulations, dim=1).reshape(-1, *rain.shape[1:])
    data = {
        name: values.reshape(len(picks), members, lead_outputs + 1, *values.shape[-2:]).transpose(
            0, 2, 1, 3, 4
        )
        for name, values in _fields(model, flat, flat_rain).items()
    }
    coords = {
        "init_time": times[picks],
        "lead_time": pd.to_timedelta(np.arange(lead_outputs + 1) * profile.lead_hours, unit="h"),
        "member": np.arange(members),
        **_grid_coords(model),
    }
    return _dataset(data, ("init_time", "lead_time", "member", "lat", "lon"), coords)


def build_world(settings: WorldSettings, cache: str | Path, progress: bool = True) -> Path:
    """Build (or reuse) the world's three raw stores under ``cache/world-<key>/``."""
    folder = Path(cache) / f"world-{settings.profile}-{settings.key()}"
    if all((folder / f"{c}.zarr").exists() for c in COMPONENTS):
        return folder
    truth, states, forcings, rains = run_truth(settings, progress)
    attrs = {
        "world": "forced-dissipative shallow water (pipelines.world)",
        **{k: str(v) for k, v in asdict(settings).items()},
    }
    truth.attrs = {**attrs, "role": "reanalysis"}
    write_store(
        folder / "truth.zarr", {"": truth}, outer="time", key=settings.key(), progress=False
    )
    times = pd.DatetimeIndex(truth["time"].values)
    for component in COMPONENTS[1:]:
        ensemble = run_ensemble(settings, component, states, forcings, rains, times, progress)
        ensemble.attrs = {**attrs, "role": "ensemble_forecast", "component": component}
        write_store(
            folder / f"{component}.zarr",
            {"": ensemble},
            outer="init_time",
            key=settings.key(),
            progress=False,
        )
    return folder


def open_world(
    settings: WorldSettings, component: str, cache: str | Path, progress: bool = True
) -> xr.Dataset:
    """One component of the world, built first if needed."""
    if component not in COMPONENTS:
        raise ValueError(f"world component must be one of {COMPONENTS}, got {component!r}")
    folder = build_world(settings, cache, progress)
    return open_complete(folder / f"{component}.zarr")


def physics_member_seconds(settings: WorldSettings, members: int = 31, hours: int = 24) -> float:
    """Seconds of this machine per ensemble member per day of forecast: the cost of a
    physics member, timed on a batch of ``members`` run for ``hours`` (after one
    untimed step, so that set-up is not counted)."""
    profile = PROFILES[settings.profile]
    model = ShallowWater(profile.nlat, profile.nlon, profile.dt, ensemble_physics(settings)).to(
        settings.device
    )
    generator = torch.Generator(device=settings.device).manual_seed(settings.seed)
    spec = model.initial_state(members, generator)
    forcing = model.initial_stirring(members, generator)
    spec, forcing, _ = model.run(spec, forcing, 1, generator)
    steps = max(1, round(hours * 3600 / profile.dt))
    start = time.perf_counter()
    model.run(spec, forcing, steps, generator)
    return (time.perf_counter() - start) / members * 24 / hours
