"""Training of the generative models (SEEDS-GEE, SEEDS-GPP, VAE-CRPS): AdamW, warm-up then cosine learning rate, gradient
clipping, an exponential moving average of the weights, bf16 autocast on CUDA,
deterministic for a seed, resumable.

Training writes a checkpoint folder (:mod:`forecast.checkpoint`: ``model.safetensors``
with the EMA weights and ``config.json``) and, for resuming, ``state.pt`` (raw weights,
optimiser and step; loaded with ``torch.load(weights_only=True)``: tensors and plain
numbers only) and ``losses.json`` (the training loss at every step, the mean over
processes).

Under ``torchrun`` the model is wrapped in DistributedDataParallel: every process takes
its own contiguous share of each global batch of ``batch_size`` samples (the global batch
is the one a single process would draw) and gradients are averaged, so one process and
N processes follow the same schedule; only the diffusion/latent noise differs.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from pipelines.errors import ConfigError
from pipelines.store import write_json_atomic

from .calibration import FIT_INITS, FIT_MEMBERS, fit_on_training_data
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint, save_config
from .context import DEFAULT_CONTEXT
from .diffusion import EDMConfig
from .distributed import torch_ranks
from .models import parameter_count
from .quantile_map import mapped_variables
from .registry import REGISTRY, Architecture, VAESettings, model_kind
from .samples import AnomalyEnsemble, SeedsSamples, StreamedEnsemble

BUDGETS: dict[str, dict] = {  # TrainConfig settings per budget
    # seconds: for tests on the tiny world (a quantile map from 2 x 2 members: plumbing)
    "tiny": {
        "steps": 30,
        "batch_size": 8,
        "width": 8,
        "multipliers": (1, 2),
        "heads": 2,
        "quantile_map_inits": 2,
        "quantile_map_members": 2,
    },
    # a few minutes on a 2-core CPU for the 32x64 world; four levels (down to 4x8), global
    # attention at the coarsest
    "quick": {"steps": 900, "batch_size": 16, "width": 24, "multipliers": (1, 2, 2, 2)},
    # a GPU's: tens of millions of parameters, attention at the two coarsest levels
    # (global up to 8192 points, axial beyond: 0.25 degree's 91 x 180 coarsest grid)
    "full": {
        "steps": 20000,
        "batch_size": 32,
        "width": 128,
        "multipliers": (1, 2, 2, 4),
        "blocks_per_level": 2,
        "attention_levels": 2,
        "heads": 8,
    },
}


@dataclass
class TrainConfig:
    model: str = "seeds-gee"
    steps: int = 900
    batch_size: int = 16
    width: int = 24
    multipliers: tuple[int, ...] = (1, 2, 2, 2)
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    k_range: tuple[int, int] = (1, 4)
    context: tuple[str, ...] = DEFAULT_CONTEXT  # forecast.context fields given the network
    blocks_per_level: int = 1
    attention_levels: int = 1
    heads: int = 4
    activation_checkpointing: bool = False
    # share of targets taken from the reanalysis (SEEDS-GPP, VAE-CRPS); None: the model's
    # default, 1 for SEEDS-GPP (1.0 beat 0.5 on the world with model error: z500 CRPS
    # 0.57-0.76 of the physics ensemble's vs 0.99-1.05; benchmarks/RESULTS.md, "SEEDS-GPP:
    # the share of reanalysis targets"), 0 for VAE-CRPS (an emulator unless told)
    truth_fraction: float | None = None
    seed: int = 0
    checkpoint_every: int = 250
    # after the last step, fit the quantile map of precipitation (forecast.quantile_map) on
    # this many training init times and members generated for each
    quantile_map: bool = True
    quantile_map_inits: int = FIT_INITS
    quantile_map_members: int = FIT_MEMBERS
    edm: EDMConfig = field(default_factory=EDMConfig)  # SEEDS models
    vae: VAESettings = field(default_factory=lambda: VAESettings())  # VAE-CRPS

    def __post_init__(self) -> None:
        if self.truth_fraction is not None and not 0.0 <= self.truth_fraction <= 1.0:
            raise ConfigError(
                f"--truth-fraction must be between 0 and 1, got {self.truth_fraction}"
            )

    @property
    def architecture(self) -> Architecture:
        # the network settings are TrainConfig fields of the same names (the static fields
        # come from the store: train() sets them)
        settings = {
            f.name: getattr(self, f.name) for f in fields(Architecture) if f.name != "static"
        }
        return Architecture(
            **{**settings, "multipliers": tuple(self.multipliers), "context": tuple(self.context)}
        )


def budget_config(model: str, budget: str, **overrides) -> TrainConfig:
    """The :class:`TrainConfig` of a named budget, with ``overrides`` (None = keep) applied."""
    if budget not in BUDGETS:
        raise ConfigError(f"budget must be one of {sorted(BUDGETS)}, got {budget!r}")
    settings = dict(BUDGETS[budget])
    # a VAE decodes several members per condition: as many network passes per sample
    divisor = model_kind(model).batch_divisor(
        Architecture(vae=overrides.get("vae") or VAESettings())
    )
    settings["batch_size"] = max(1, settings["batch_size"] // divisor)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    settings.setdefault("warmup", min(100, max(1, settings["steps"] // 10)))
    return TrainConfig(model=model, **settings)


def _truth_fraction(config: TrainConfig) -> float:
    """The share of reanalysis targets: as asked, else the model's default; refused for a
    model that only emulates."""
    kind = model_kind(config.model)
    if config.truth_fraction is None:
        return kind.default_truth_fraction
    if config.truth_fraction > 0 and not kind.reanalysis_targets:
        raise ConfigError(
            f"{config.model} emulates the ensemble and takes no reanalysis targets; "
            "--truth-fraction is for "
            + ", ".join(name for name, other in REGISTRY.items() if other.reanalysis_targets)
        )
    return config.truth_fraction


def _learning_rate(config: TrainConfig, step: int) -> float:
    if step < config.warmup:
        return config.learning_rate * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(
    store: str | Path,
    out: str | Path,
    config: TrainConfig,
    *,
    device: str = "cpu",
    variables: list[str] | None = None,
    progress: bool = True,
    reading: str = "auto",
    workers: int = 0,
) -> Path:
    """Train a model on a prepared forecast store; resume from ``out`` if it holds a run.

    ``reading``: ``memory`` (the store's members as anomalies in RAM), ``stream`` (each
    sample read from the store when needed: memory bounded by its chunks) or ``auto``
    (memory up to :data:`IN_MEMORY_BYTES`). ``workers``: DataLoader worker processes
    preparing batches ahead of the step (0: in this process). The batches are the same
    whatever the two settings.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its share of every
    batch with DistributedDataParallel; process 0 writes the checkpoint.
    """
    if workers < 0:
        raise ConfigError(f"--workers must be 0 or more, got {workers}")
    out = Path(out)
    ranks = torch_ranks(device)
    device = ranks.device(device)
    if config.batch_size % ranks.world:
        raise ConfigError(
            f"the batch size {config.batch_size} does not split evenly over {ranks.world} "
            "processes; pass --batch-size a multiple of the process count"
        )
    local_batch = config.batch_size // ranks.world
    torch.manual_seed(config.seed)
    ensemble = open_training_data(store, variables, reading)
    if isinstance(ensemble, AnomalyEnsemble):
        workers = 0  # the members are in memory already: workers would only copy them
    kind = model_kind(config.model)
    config = replace(config, truth_fraction=_truth_fraction(config))
    samples = SeedsSamples(
        ensemble,
        k_range=config.k_range,
        truth_fraction=config.truth_fraction,
        seed=config.seed,
        context=tuple(config.context),
    )
    model, architecture = kind.build(
        len(ensemble.variables), replace(config.architecture, static=samples.static_names)
    )
    model = model.to(device)
    ema = copy.deepcopy(model).eval()
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    step = 0
    state_file = out / "state.pt"
    if state_file.is_file():
        state = torch.load(state_file, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimiser.load_state_dict(state["optimiser"])
        step = int(state["step"])
    losses = _read_losses(out)[:step]  # the curve so far, when resuming
    checkpoint = Checkpoint(
        kind=kind.name,
        variables=tuple(ensemble.variables),
        lat=tuple(ensemble.coords["lat"].tolist()),
        lon=tuple(ensemble.coords["lon"].tolist()),
        residual_scale=samples.residual_scale(),
        architecture=architecture,
        sampler=kind.default_sampler(architecture),
        parameters=parameter_count(model),
        training={k: v for k, v in asdict(config).items() if k not in ("edm", "vae")},
        data=str(store),
        context=tuple(config.context),
        static=samples.static_names,
    )
    # the noise of each process's share: its own stream, reproducible on resume
    generator = torch.Generator(device=device).manual_seed(
        config.seed + step + 1_000_003 * ranks.rank
    )
    objective = _TrainingLoss(model)
    if ranks.world > 1:
        objective = torch.nn.parallel.DistributedDataParallel(
            objective, device_ids=[ranks.local_rank] if device.startswith("cuda") else None
        )
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.startswith("cuda")
        else torch.autocast("cpu", enabled=False)
    )
    bar = tqdm(
        total=config.steps,
        initial=step,
        desc=config.model,
        unit="step",
        disable=not progress or not ranks.main,
    )
    order = np.random.default_rng(config.seed).permutation(len(samples))
    plan = BatchPlan(order, step, config.steps, config.batch_size, ranks.rank, local_batch)
    batches = iter(
        torch.utils.data.DataLoader(
            samples,
            batch_sampler=plan,
            num_workers=workers,
            prefetch_factor=2 if workers else None,
            # fresh processes: a forked copy of this one inherits dask's and zarr's
            # threads mid-flight and can hang
            multiprocessing_context="spawn" if workers else None,
        )
    )
    while step < config.steps:
        batch = next(batches)
        target = batch["target"].to(device)
        condition = (batch["condition"].to(device), batch["lead"].to(device))
        for group in optimiser.param_groups:
            group["lr"] = _learning_rate(config, step)
        with autocast:
            loss = objective(target, condition, generator)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimiser.step()
        with torch.no_grad():
            decay = min(config.ema_decay, (1 + step) / (10 + step))
            for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        step += 1
        losses.append(float(ranks.mean(loss.detach().float())))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if (step % config.checkpoint_every == 0 or step == config.steps) and ranks.main:
            save_checkpoint(out, ema, replace(checkpoint, step=step))
            write_json_atomic(out / "losses.json", {"loss": losses})
            tmp = out / f"state.pt.tmp{os.getpid()}"
            torch.save(
                {
                    "model": model.state_dict(),
                    "ema": ema.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "step": step,
                },
                tmp,
            )
            os.replace(tmp, state_file)
    bar.close()
    if ranks.main and not (out / "model.safetensors").exists():
        save_checkpoint(out, ema, replace(checkpoint, step=step))
    if ranks.main and config.quantile_map:
        _add_quantile_map(out, store, config, device, progress)
    ranks.barrier()  # the checkpoint is complete before any process uses it
    return out


def _add_quantile_map(
    out: Path, store: str | Path, config: TrainConfig, device: str, progress: bool
) -> None:
    """Fit the finished checkpoint's quantile map on its training data, unless it has one
    (a finished run resumed) or nothing to map; the weights stay as they are."""
    model, trained = load_checkpoint(out, device)
    if trained.quantile_map is not None or not mapped_variables(trained.variables):
        return
    quantile_map = fit_on_training_data(
        model,
        trained,
        store,
        truth_fraction=config.truth_fraction,
        inits=config.quantile_map_inits,
        members=config.quantile_map_members,
        seed=config.seed,
        device=device,
        progress=progress,
    )
    save_config(out, replace(trained, quantile_map=quantile_map))


# `reading="auto"`: the store's members as float32 anomalies in memory up to this size
IN_MEMORY_BYTES = 2 * 2**30


def open_training_data(
    store: str | Path, variables: list[str] | None, reading: str
) -> AnomalyEnsemble | StreamedEnsemble:
    """The store as training samples: in memory, streamed, or (``auto``) by its size."""
    if reading not in ("auto", "memory", "stream"):
        raise ConfigError(f"--read must be auto, memory or stream, got {reading!r}")
    if reading == "memory":
        return AnomalyEnsemble.load(store, variables)
    streamed = StreamedEnsemble(store, variables)
    size = np.prod(streamed.shape) * len(streamed.variables) * 4
    size *= len(streamed.coords["lat"]) * len(streamed.coords["lon"])
    if reading == "stream" or size > IN_MEMORY_BYTES:
        return streamed
    return AnomalyEnsemble.load(store, variables)


class BatchPlan(torch.utils.data.Sampler):
    """The (sample, epoch) pairs of each step's batch from ``start`` to ``steps``: this
    process's share of the global batch, consecutive runs through ``order``."""

    def __init__(
        self, order: np.ndarray, start: int, steps: int, batch_size: int, rank: int, local: int
    ) -> None:
        self.order, self.start, self.steps = order, start, steps
        self.batch_size, self.rank, self.local = batch_size, rank, local

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self):
        for step in range(self.start, self.steps):
            indices = batch_indices(self.order, step, self.batch_size)
            epoch = (step * self.batch_size) // len(self.order)
            share = indices[self.rank * self.local : (self.rank + 1) * self.local]
            yield [(index, epoch) for index in share]


def batch_indices(order: np.ndarray, step: int, batch_size: int) -> list[int]:
    """The samples of the global batch at ``step``: consecutive runs through ``order``."""
    start = step * batch_size
    return [int(order[(start + b) % len(order)]) for b in range(batch_size)]


class _TrainingLoss(torch.nn.Module):
    """The model's training loss as ``forward``, which DistributedDataParallel hooks into."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, target, condition, generator):
        return self.model.training_loss(target, condition, generator=generator)


def _read_losses(out: Path) -> list[float]:
    try:
        return list(json.loads((out / "losses.json").read_text())["loss"])
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return []
