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
import torch
import xarray as xr

from pipelines import lexicon
from pipelines.errors import DataError
from pipelines.store import fingerprint, write_store

from .diffusion import dpm_solver_2m_sample
from .samples import AnomalyEnsemble, seed_condition
from .train import load_checkpoint


def generate_init(
    denoiser: torch.nn.Module,
    seeds: np.ndarray,
    lead_days: np.ndarray,
    members: int,
    *,
    steps: int,
    batch_size: int,
    generator: torch.Generator,
    device: str = "cpu",
) -> np.ndarray:
    """Anomalies (lead, member, var, lat, lon) for one init time from seeds (lead, K, var, lat, lon)."""
    leads, _, n_vars, n_lat, n_lon = seeds.shape
    condition_fields = seed_condition(torch.from_numpy(seeds)).to(device)  # (lead, 2V, H, W)
    jobs = [(j, m) for j in range(leads) for m in range(members)]
    out = np.empty((leads, members, n_vars, n_lat, n_lon), dtype=np.float32)
    config = denoiser.config
    # all starting noise drawn at once, so the members do not depend on the batch size
    noise = torch.randn(
        (len(jobs), n_vars, n_lat, n_lon), generator=generator, device=generator.device
    )
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        lead_index = torch.tensor([j for j, _ in chunk], device=device)
        fields = condition_fields[lead_index]
        lead = torch.from_numpy(lead_days).to(device)[lead_index]

        def denoise(x, sigma, fields=fields, lead=lead):
            return denoiser(x, sigma, (fields, lead))

        samples = dpm_solver_2m_sample(
            denoise,
            (len(chunk), n_vars, n_lat, n_lon),
            steps=steps,
            sigma_min=config.sigma_min,
            sigma_max=config.sigma_max,
            rho=config.rho,
            noise=noise[start : start + batch_size],
            device=device,
        )
        values = samples.float().cpu().numpy()
        for (j, m), value in zip(chunk, values, strict=True):
            out[j, m] = value
    return out


def generate(
    checkpoint: str | Path,
    source: str | Path,
    out: str | Path,
    *,
    members: int = 64,
    seeds: int = 2,
    inits: list[int] | None = None,
    steps: int | None = None,
    batch_size: int = 64,
    seed: int = 0,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate ``members`` members from ``seeds`` seeds for each init time of ``source``."""
    denoiser, metadata = load_checkpoint(checkpoint, device)
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
    steps = steps or denoiser.config.sampler_steps
    shape = (
        len(chosen),
        ensemble.members.shape[1],
        members,
        ensemble.members.shape[4],
        ensemble.members.shape[5],
    )
    names = metadata["variables"]

    def block(index: int) -> np.ndarray:
        i = chosen[index]
        generator = torch.Generator(device=device).manual_seed(
            int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        )
        anomalies = generate_init(
            denoiser,
            ensemble.members[i, :, :seeds],
            ensemble.lead_days,
            members,
            steps=steps,
            batch_size=batch_size,
            generator=generator,
            device=device,
        )  # (lead, member, var, lat, lon)
        physical = anomalies * ensemble.std[i][:, None] + ensemble.mean[i][:, None]
        return physical[None]  # (1, lead, member, var, lat, lon)

    def make_block(block_info=None):
        index = block_info[None]["chunk-location"][0]
        return block(index)

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
        "lead_time": ensemble.coords["lead_time"],
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
        "sampler": f"DPM-Solver++(2M), {steps} steps",
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
        steps,
        seed,
    )
    groups = {"": ds}
    source_truth = Path(source) / "truth"
    if source_truth.exists():  # keep what is needed to score the output on its own
        groups["truth"] = xr.open_zarr(source, group="truth", consolidated=False).isel(
            init_time=chosen
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
        )
