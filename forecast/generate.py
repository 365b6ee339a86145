"""Batch generation: K seed members -> N generated members, per init time, into zarr.

For each init time the first K members of the source ensemble are the seeds; N members
are drawn for every lead time at once in batches of ``batch_size`` samples, turned back
into physical units with the climatology at valid time, and written as one block of
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
import pandas as pd
import torch
import xarray as xr

from pipelines import lexicon
from pipelines.errors import DataError
from pipelines.store import fingerprint, write_store

from .distributed import torch_ranks
from .samples import AnomalyEnsemble, ResidualScale, seed_condition
from .train import load_checkpoint


def generate_init(
    model: torch.nn.Module,
    seeds: np.ndarray,
    lead_days: np.ndarray,
    members: int,
    *,
    steps: int | None,
    batch_size: int,
    generator: torch.Generator,
    scale: np.ndarray,
    device: str = "cpu",
) -> np.ndarray:
    """Anomalies (lead, member, var, lat, lon) for one init time from seeds (lead, K, var, lat, lon).

    ``model`` is any checkpoint model (``sample(noise, condition, steps)`` and
    ``noise_shape``): the diffusion models integrate from noise, the VAE decodes it. It
    draws residuals r; a member is seed mean + ``scale`` (lead, var) * r.
    """
    leads, _, n_vars, n_lat, n_lon = seeds.shape
    condition_fields = seed_condition(torch.from_numpy(seeds)).to(device)  # (lead, 2V, H, W)
    jobs = [(j, m) for j in range(leads) for m in range(members)]
    out = np.empty((leads, members, n_vars, n_lat, n_lon), dtype=np.float32)
    # all starting noise drawn at once, so the members do not depend on the batch size
    noise = torch.randn(
        model.noise_shape((len(jobs), n_vars, n_lat, n_lon)),
        generator=generator,
        device=generator.device,
    )
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        lead_index = torch.tensor([j for j, _ in chunk], device=device)
        condition = (
            condition_fields[lead_index],
            torch.from_numpy(lead_days).to(device)[lead_index],
        )
        residual = model.sample(noise[start : start + batch_size].to(device), condition, steps)
        factor = torch.from_numpy(scale).to(device)[lead_index][:, :, None, None]
        values = (condition[0][:, :n_vars] + factor * residual.float()).cpu().numpy()
        for (j, m), value in zip(chunk, values, strict=True):
            out[j, m] = value
    return out


def lead_indices(available: np.ndarray, wanted: list[str] | None) -> list[int]:
    """Indices of the ``wanted`` lead times ("24h", "3D", ...) among ``available``."""
    if wanted is None:
        return list(range(len(available)))
    try:
        values = pd.to_timedelta(wanted).values
    except ValueError as error:
        raise DataError(f"lead times {wanted} are not durations like 24h or 3D ({error})") from None
    position = {v: i for i, v in enumerate(available)}
    missing = [w for w, v in zip(wanted, values, strict=True) if v not in position]
    if missing:
        hours = [int(v / np.timedelta64(1, "h")) for v in available]
        raise DataError(f"lead times {missing} are not in the source (it has {hours} h)")
    return [position[v] for v in values]


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
    members: int = 64,
    seeds: int = 2,
    inits: list[int] | None = None,
    leads: list[str] | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate ``members`` members from ``seeds`` seeds for each init time of ``source``
    (``inits``: indices, default all) at each lead time (``leads``: durations, default all).

    ``batch_size``: samples per network call (default :func:`default_batch_size`); the
    members do not depend on it.
    """
    if batch_size is not None and batch_size < 1:
        raise DataError(f"the batch size must be at least 1, got {batch_size}")
    ranks = torch_ranks(device)  # under torchrun: init times dealt out over the processes
    device = ranks.device(device)
    model, metadata = load_checkpoint(checkpoint, device)
    ensemble = AnomalyEnsemble.load(source, metadata["variables"])
    if ensemble.members.shape[2] < seeds:
        raise DataError(
            f"has {ensemble.members.shape[2]} members, fewer than --seeds {seeds}", str(source)
        )
    if (
        list(ensemble.coords["lat"]) != metadata["grid"]["lat"]
        or list(ensemble.coords["lon"]) != metadata["grid"]["lon"]
    ):
        raise DataError("is on another grid than the checkpoint was trained on", str(source))
    chosen = list(range(ensemble.members.shape[0])) if inits is None else inits
    bad = [i for i in chosen if not 0 <= i < ensemble.members.shape[0]]
    if bad:
        raise DataError(
            f"has {ensemble.members.shape[0]} init times (indices 0..{ensemble.members.shape[0] - 1}); "
            f"--init {bad} is out of range",
            str(source),
        )
    at_leads = lead_indices(ensemble.coords["lead_time"], leads)
    points = len(ensemble.coords["lat"]) * len(ensemble.coords["lon"])
    batch_size = batch_size or default_batch_size(device, points)
    diffusion = metadata["kind"].startswith("seeds")
    scale = ResidualScale(**metadata["residual_scale"]).at(ensemble.lead_days[at_leads])
    steps = (steps or metadata["edm"]["sampler_steps"]) if diffusion else None
    shape = (
        len(chosen),
        len(at_leads),
        members,
        ensemble.members.shape[4],
        ensemble.members.shape[5],
    )
    names = metadata["variables"]

    def make_block(block_info=None) -> np.ndarray:
        i = chosen[block_info[None]["chunk-location"][0]]
        generator = torch.Generator(device=device).manual_seed(
            int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        )
        anomalies = generate_init(
            model,
            ensemble.members[i, at_leads, :seeds],
            ensemble.lead_days[at_leads],
            members,
            steps=steps,
            batch_size=batch_size,
            generator=generator,
            scale=scale,
            device=device,
        )  # (lead, member, var, lat, lon)
        physical = (
            anomalies * ensemble.std[i, at_leads][:, None] + ensemble.mean[i, at_leads][:, None]
        )
        return physical[None]  # (1, lead, member, var, lat, lon)

    lazy = dask_array.map_blocks(
        make_block,
        dtype=np.float32,
        chunks=(
            (1,) * len(chosen),
            (shape[1],),
            (members,),
            (len(names),),
            (shape[3],),
            (shape[4],),
        ),
    )
    coords = {
        "init_time": ensemble.coords["init_time"][chosen],
        "lead_time": ensemble.coords["lead_time"][at_leads],
        "member": np.arange(members),
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
    for name in names:
        ds[name].attrs = lexicon.cf_attrs(name)
    ds["lat"].attrs = {"units": "degrees_north", "long_name": "latitude"}
    ds["lon"].attrs = {"units": "degrees_east", "long_name": "longitude"}
    ds.attrs = {
        "model": metadata["kind"],
        "checkpoint": str(checkpoint),
        "checkpoint_step": metadata.get("step", -1),
        "source": str(source),
        "seeds": seeds,
        "seed": seed,
        "sampler": f"DPM-Solver++(2M), {steps} steps" if diffusion else "prior, one decoder pass",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "role": "ensemble_forecast",
    }
    key = fingerprint(
        str(Path(checkpoint).resolve()),
        metadata.get("step"),
        str(source),
        members,
        seeds,
        chosen,
        at_leads,
        steps,
        seed,
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
