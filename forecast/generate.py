"""Batch generation: K seed members -> N generated members, per init time, into zarr.

For each init time the first K members of the source ensemble are the seeds; N members
are drawn for every lead time at once in batches of ``batch_size`` samples, turned back
into physical units with the climatology at valid time (precipitation through the
checkpoint's quantile map, :mod:`forecast.quantile_map`, and its transform's inverse,
clamped at zero: never negative), and written as one block of
the output store. The store protocol of :mod:`pipelines.store` makes it resumable: a
killed run started again skips finished init times. Each init time draws all its
starting noise at once from its own generator, seeded by (seed, init index), so the
members do not depend on how the run was split, batched or resumed.
"""

from __future__ import annotations

import time
from pathlib import Path

import dask
import dask.array as dask_array
import numpy as np
import torch
import xarray as xr

from pipelines import lexicon
from pipelines.errors import ConfigError, DataError
from pipelines.leads import lead_indices
from pipelines.store import fingerprint, write_store
from pipelines.transforms import stacked_from_model_space

from .checkpoint import load_checkpoint
from .context import ContextFields
from .distributed import torch_ranks
from .registry import GenerativeModel, Sampler
from .samples import StreamedEnsemble, ensemble_context, seed_condition, valid_times


def generate_init(
    model: GenerativeModel,
    seed_fields: np.ndarray,
    lead_days: np.ndarray,
    n_members: int,
    *,
    steps: int | None,
    batch_size: int,
    generator: torch.Generator,
    scale: np.ndarray,
    device: str = "cpu",
    algorithm: str | None = None,
    context: np.ndarray | None = None,
) -> np.ndarray:
    """Anomalies (lead, member, var, lat, lon) for one init time from the seed members'
    anomalies ``seed_fields`` (lead, K, var, lat, lon) and, for a model trained with
    context, its fields (lead, C, lat, lon) (:func:`forecast.context.context_fields`).

    ``model`` is any registered model: the diffusion models integrate from noise, the VAE
    decodes it. It draws residuals r; a member is seed mean + ``scale`` (lead, var) * r.
    ``algorithm``: the diffusion sampler (default: the model's); a stochastic one draws
    each member's step noise from a generator of its own, seeded from ``generator``.
    """
    leads, _, n_vars, n_lat, n_lon = seed_fields.shape
    condition_fields = seed_condition(torch.from_numpy(seed_fields))  # (lead, 2V, H, W)
    if context is not None:
        condition_fields = torch.cat([condition_fields, torch.from_numpy(context)], dim=1)
    condition_fields = condition_fields.to(device)
    jobs = [(j, m) for j in range(leads) for m in range(n_members)]
    out = np.empty((leads, n_members, n_vars, n_lat, n_lon), dtype=np.float32)
    # all starting noise drawn at once, so the members do not depend on the batch size
    noise = torch.randn(
        model.noise_shape((len(jobs), n_vars, n_lat, n_lon)),
        generator=generator,
        device=generator.device,
    )
    # after the starting noise, so that drawing them leaves the deterministic members as they were
    member_seeds = (
        torch.randint(2**62, (len(jobs),), generator=generator, device=generator.device).tolist()
        if algorithm is not None and Sampler(algorithm).stochastic
        else None
    )
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        lead_index = torch.tensor([j for j, _ in chunk], device=device)
        condition = (
            condition_fields[lead_index],
            torch.from_numpy(lead_days).to(device)[lead_index],
        )
        generators = (
            [
                torch.Generator(device=generator.device).manual_seed(s)
                for s in member_seeds[start : start + batch_size]
            ]
            if member_seeds is not None
            else None
        )
        residual = model.sample(
            noise[start : start + batch_size].to(device),
            condition,
            steps,
            algorithm=algorithm,
            generators=generators,
        )
        factor = torch.from_numpy(scale).to(device)[lead_index][:, :, None, None]
        values = (condition[0][:, :n_vars] + factor * residual.float()).cpu().numpy()
        for (j, m), value in zip(chunk, values, strict=True):
            out[j, m] = value
    return out


def init_members(
    model: GenerativeModel,
    ensemble: StreamedEnsemble,
    init: int,
    at_leads: list[int],
    *,
    n_seeds: int,
    n_members: int,
    sampler: Sampler,
    batch_size: int,
    scale: np.ndarray,
    context: ContextFields,
    seed: int,
    device: str = "cpu",
) -> np.ndarray:
    """Members (lead, member, var, lat, lon) of init time ``init`` at ``at_leads`` in model
    space, from its first ``n_seeds`` members; drawn from init ``init``'s own stream of
    ``seed``, so they do not depend on which other init times are generated with it."""
    generator = torch.Generator(device=device).manual_seed(
        int(np.random.SeedSequence([seed, init]).generate_state(1)[0])
    )
    seed_fields, mean, std = ensemble.seeds(init, at_leads, n_seeds)
    anomalies = generate_init(
        model,
        seed_fields,
        ensemble.lead_days[at_leads],
        n_members,
        steps=sampler.steps,
        algorithm=sampler.name,
        batch_size=batch_size,
        generator=generator,
        scale=scale,
        device=device,
        context=context.at(valid_times(ensemble.coords, init, at_leads), std),
    )
    return anomalies * std[:, None] + mean[:, None]


def default_batch_size(device: str | torch.device, points: int) -> int:
    """Samples per network call: 64 on a GPU; on a CPU about 65k grid points per call.

    On a CPU a larger batch stops paying once its working set leaves the caches: at 64x128
    a batch of 32 is slower than 8 (benchmarks/RESULTS.md, "Throughput"); 65k points gives
    32 at 32x64 and 8 at 64x128, the fastest measured at each.
    """
    if torch.device(device).type != "cpu":
        return 64
    return int(np.clip(2**16 // max(points, 1), 1, 64))


def generate(
    checkpoint: str | Path,
    source: str | Path,
    out: str | Path,
    *,
    n_members: int = 64,
    n_seeds: int = 2,
    inits: list[int] | None = None,
    leads: list[str] | None = None,
    steps: int | None = None,
    sampler: str | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
    quantile_mapping: bool = True,
) -> Path:
    """Generate ``n_members`` members from the first ``n_seeds`` members of each init time
    of ``source`` (``inits``: indices, default all) at each lead time (``leads``:
    durations, default all).

    ``sampler`` and ``steps``: the diffusion sampler (``dpmsolver++`` or
    ``sde-dpmsolver++``) and its steps (default: the checkpoint's). ``batch_size``: samples
    per network call (default :func:`default_batch_size`); the members do not depend on it.
    ``seed``: the random seed; each init time draws from its own stream.
    ``quantile_mapping``: put the mapped variables (precipitation) on the distribution the
    model was trained toward with the checkpoint's :class:`~forecast.quantile_map.QuantileMap`
    (where it has one; False: the network's values as they come).
    """
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"the batch size must be at least 1, got {batch_size}")
    ranks = torch_ranks(device)  # under torchrun: init times dealt out over the processes
    device = ranks.device(device)
    model, trained = load_checkpoint(checkpoint, device)
    # read per init time as the blocks are made: only the K seed members at the leads wanted
    ensemble = StreamedEnsemble(source, list(trained.variables))
    n_inits, available_members = len(ensemble.coords["init_time"]), len(ensemble.coords["member"])
    if available_members < n_seeds:
        raise DataError(
            f"has {available_members} members, fewer than --seeds {n_seeds}", str(source)
        )
    if tuple(ensemble.coords["lat"]) != trained.lat or tuple(ensemble.coords["lon"]) != trained.lon:
        raise DataError("is on another grid than the checkpoint was trained on", str(source))
    chosen = list(range(n_inits)) if inits is None else inits
    bad = [i for i in chosen if not 0 <= i < n_inits]
    if bad:
        raise DataError(
            f"has {n_inits} init times (indices 0..{n_inits - 1}); --init {bad} is out of range",
            str(source),
        )
    at_leads = lead_indices(ensemble.coords["lead_time"], leads)
    points = len(ensemble.coords["lat"]) * len(ensemble.coords["lon"])
    batch_size = batch_size or default_batch_size(device, points)
    scale = trained.residual_scale.at(ensemble.lead_days[at_leads])
    chosen_sampler = trained.sampler.with_settings(sampler, steps)
    names = list(trained.variables)
    # made once; a source without the checkpoint's static fields is refused before any work
    context = ensemble_context(ensemble, trained.context, trained.static, str(source))

    quantile_map = trained.quantile_map if quantile_mapping else None

    def make_block(block_info=None) -> np.ndarray:
        i = chosen[block_info[None]["chunk-location"][0]]
        values = init_members(
            model,
            ensemble,
            i,
            at_leads,
            n_seeds=n_seeds,
            n_members=n_members,
            sampler=chosen_sampler,
            batch_size=batch_size,
            scale=scale,
            context=context,
            seed=seed,
            device=device,
        )  # (lead, member, var, lat, lon) in model space
        if quantile_map is not None:
            quantile_map.apply(values, names, ensemble.lead_days[at_leads], var_axis=2)
        return stacked_from_model_space(values, names, 2)[None]  # (1, lead, member, ...)

    lazy = dask_array.map_blocks(
        make_block,
        dtype=np.float32,
        chunks=(
            (1,) * len(chosen),
            (len(at_leads),),
            (n_members,),
            (len(names),),
            (len(ensemble.coords["lat"]),),
            (len(ensemble.coords["lon"]),),
        ),
    )
    coords = {
        "init_time": ensemble.coords["init_time"][chosen],
        "lead_time": ensemble.coords["lead_time"][at_leads],
        "member": np.arange(n_members),
        "lat": ensemble.coords["lat"],
        "lon": ensemble.coords["lon"],
    }
    ds = xr.Dataset(
        {
            name: (("init_time", "lead_time", "member", "lat", "lon"), lazy[:, :, :, v])
            for v, name in enumerate(names)
        },
        coords=coords,
    )
    lexicon.label_cf(ds)
    ds.attrs = {
        "model": trained.kind,
        "checkpoint": str(checkpoint),
        "checkpoint_step": trained.step,
        "source": str(source),
        "seeds": n_seeds,
        "seed": seed,
        "sampler": chosen_sampler.describe(),
        "sampler_name": chosen_sampler.name,
        "sampler_steps": chosen_sampler.steps or 0,
        "quantile_map": ", ".join(quantile_map.variables) if quantile_map else "none",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "role": "ensemble_forecast",
    }
    key = fingerprint(
        str(Path(checkpoint).resolve()),
        trained.step,
        str(source),
        n_members,
        n_seeds,
        chosen,
        at_leads,
        chosen_sampler.steps,
        seed,
        # only when it differs from the default, so outputs made before keep their key
        *([chosen_sampler.name] if chosen_sampler.stochastic else []),
        *([quantile_map.digest()] if quantile_map is not None else []),
    )
    groups = {"": ds}
    source_truth = Path(source) / "truth"
    if source_truth.exists():  # keep what is needed to score the output on its own
        groups["truth"] = xr.open_zarr(source, group="truth", consolidated=False).isel(
            init_time=chosen, lead_time=at_leads
        )[names]
        groups["climatology"] = xr.open_zarr(source, group="climatology", consolidated=False)[names]
    with dask.config.set(scheduler="synchronous"), torch.inference_mode():
        return write_store(
            out,
            groups,
            outer="init_time",
            key=key,
            overwrite=overwrite,
            progress=progress,
            description="generate",
            outer_chunk=1,  # one init time per block: the unit of work that a resume keeps
            team=ranks.team(),
        )
