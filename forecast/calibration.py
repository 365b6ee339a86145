"""Fitting a trained model's quantile map on its training data (:mod:`forecast.quantile_map`).

The model generates members from the seeds of a few training init times, evenly spaced
over the record; the target is what its training targets were drawn from at those init
times: the store's members and, with probability ``truth_fraction``, the reanalysis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import Checkpoint
from .generate import default_batch_size, init_members
from .quantile_map import QuantileMap, fit_quantile_map, mapped_variables
from .registry import GenerativeModel
from .samples import StreamedEnsemble, ensemble_context

# generated values per lead time: init times x members x grid points (~74k at 32 x 64,
# enough for the 0.9995 level; what the fit costs: benchmarks/RESULTS.md, "Precipitation's
# quantile map")
FIT_INITS = 6
FIT_MEMBERS = 6
FIT_SEEDS = 2  # the seeds generation takes by default


def fit_on_training_data(
    model: GenerativeModel,
    trained: Checkpoint,
    store: str | Path,
    *,
    truth_fraction: float,
    inits: int = FIT_INITS,
    members: int = FIT_MEMBERS,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
) -> QuantileMap | None:
    """The quantile map of ``model`` (``trained``'s network) fitted on ``inits`` init times
    of its training ``store``, ``members`` generated members each; None when it has no
    variable to map."""
    names = list(trained.variables)
    mapped = [names.index(name) for name in mapped_variables(names)]
    if not mapped:
        return None
    ensemble = StreamedEnsemble(store, names)
    n_init, n_lead, n_member = ensemble.shape
    chosen = np.unique(np.linspace(0, n_init - 1, min(inits, n_init)).round().astype(int))
    at_leads = list(range(1 if n_lead > 1 else 0, n_lead))  # as training: lead 0 is the seeds'
    n_seeds = min(FIT_SEEDS, n_member - 1)
    context = ensemble_context(ensemble, trained.context, trained.static, str(store))
    points = len(ensemble.coords["lat"]) * len(ensemble.coords["lon"])
    batch_size = default_batch_size(device, points)
    scale = trained.residual_scale.at(ensemble.lead_days[at_leads])
    generated, targets, truths = [], [], []
    with torch.inference_mode():
        for init in tqdm(chosen, desc="quantile map", unit="init", disable=not progress):
            values = init_members(
                model,
                ensemble,
                int(init),
                at_leads,
                n_seeds=n_seeds,
                n_members=members,
                sampler=trained.sampler,
                batch_size=batch_size,
                scale=scale,
                context=context,
                seed=seed,
                device=device,
            )  # (lead, member, var, lat, lon), model space
            generated.append(_by_lead(values[:, :, mapped]))
            # one read: the members the targets need (only one when they are all reanalysis),
            # and the climatology at valid time that turns anomalies back into model space
            read = n_member if truth_fraction < 1 else 1
            anomalies, mean, std = ensemble.seeds(int(init), at_leads, read)
            if truth_fraction < 1:
                targets.append(_by_lead((anomalies * std[:, None] + mean[:, None])[:, :, mapped]))
            if truth_fraction > 0:
                truth = np.stack([ensemble.truth_at(int(init), j) for j in at_leads])
                truths.append(_by_lead((truth * std + mean)[:, None, mapped]))
    parts, weights = [], []
    for values, share in ((targets, 1 - truth_fraction), (truths, truth_fraction)):
        if values and share > 0:
            pooled = np.concatenate(values, axis=-1)  # (lead, var, samples)
            parts.append(pooled)
            weights.append(np.full(pooled.shape[-1], share / pooled.shape[-1]))
    return fit_quantile_map(
        np.concatenate(generated, axis=-1),
        np.concatenate(parts, axis=-1),
        np.concatenate(weights),
        [names[v] for v in mapped],
        ensemble.lead_days[at_leads],
        inits=len(chosen),
        members=members,
    )


def _by_lead(values: np.ndarray) -> np.ndarray:
    """(lead, member, var, lat, lon) -> (lead, var, member x lat x lon)."""
    return np.moveaxis(values, 2, 1).reshape(values.shape[0], values.shape[2], -1)
