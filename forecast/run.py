"""``forecast run``: the whole job on the embedded world, each step reused when done.

world -> prepared stores -> SEEDS-GEE, SEEDS-GPP and VAE-CRPS trained on the reforecast
-> K = 2 seeds of held-out operational forecasts -> N generated members each -> scored
with the 2 seeds, the 31-member physics ensemble and climatology against the world's
truth -> ``report/report.md`` with figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import xarray as xr

from pipelines import load_catalog
from pipelines.catalog import Catalog
from pipelines.errors import DataError
from pipelines.prepare import prepare_entry
from pipelines.store import StaleStoreError, open_complete
from pipelines.world import WorldSettings, physics_member_seconds

from .checkpoint import read_checkpoint
from .generate import generate
from .reference_ensembles import climatological_ensemble, held_out
from .registry import MODEL_NAMES, REGISTRY
from .run_report import make_report
from .scoring.summary import score_ensemble
from .train import budget_config, train

WORLD_ENTRIES = ("world-truth", "world-reforecast", "world-operational")


@dataclass(frozen=True)
class RunSettings:
    profile: str = "default"  # world profile
    budget: str = "quick"  # training budget of every model
    steps: int | None = 400  # overrides the budget's steps: three models must fit in the run
    inits: int = 3  # held-out init times, evenly spaced over the operational ones
    leads: tuple[str, ...] = ("24h", "72h", "120h", "240h")
    n_members: int = 32  # generated per init time and lead
    n_seeds: int = 2
    sampler_steps: int | None = None  # None: the checkpoint's (16)
    maps_variable: str = "z500"


DEFAULT = RunSettings()
QUICK = RunSettings(
    profile="tiny",
    budget="tiny",
    steps=None,
    inits=2,
    leads=("24h", "120h"),
    n_members=8,
    sampler_steps=8,
)


def world_catalog(profile: str, catalog: Catalog | None = None) -> Catalog:
    """The catalog with the world entries switched to ``profile``."""
    catalog = catalog or load_catalog()
    entries = dict(catalog.entries)
    for name in WORLD_ENTRIES:
        entries[name] = replace(
            entries[name], options={**entries[name].options, "profile": profile}
        )
    return replace(catalog, entries=entries)


class Stages:
    """Wall time of each stage, printed as it ends."""

    def __init__(self, quiet: bool) -> None:
        self.seconds: dict[str, float] = {}
        self.quiet = quiet

    def __call__(self, name: str, start: float) -> None:
        self.seconds[name] = time.perf_counter() - start
        if not self.quiet:
            print(f"[run] {name}: {self.seconds[name]:.0f} s", flush=True)


def run(
    settings: RunSettings = DEFAULT,
    out: str | Path = "runs/world",
    *,
    catalog: Catalog | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> Path:
    """Do the whole job; returns the report's path. Finished steps are reused.

    ``catalog``: where the world entries come from (default: the project's catalog); their
    profile is set from ``settings``.
    """
    out = Path(out)
    stages = Stages(quiet=not progress)
    start = time.perf_counter()
    catalog = world_catalog(settings.profile, catalog)
    try:
        stores = {
            name: prepare_entry(name, catalog, out / "prepared", progress=progress)
            for name in WORLD_ENTRIES
        }
    except StaleStoreError as error:
        # the run's models were trained on the old stores: replacing only the stores would
        # reuse them on data they never saw, so the folder is the user's to delete
        raise DataError(
            f"{error.source} was prepared by another version of forecast or from other "
            "settings, and the run's models and ensembles were made from it: delete the run "
            "folder or choose another --out",
            str(out),
        ) from None
    stages("world and prepare", start)

    operational = stores["world-operational"]
    available = open_complete(operational).sizes["init_time"]
    inits = sorted(
        {int(i) for i in np.linspace(0, available - 1, min(settings.inits, available)).round()}
    )
    ensembles: dict[str, Path] = {}
    costs: dict[str, str] = {}
    training_steps = 0
    for model in MODEL_NAMES:
        start = time.perf_counter()
        checkpoint = train(
            stores["world-reforecast"],
            out / "models" / model,
            budget_config(model, settings.budget, steps=settings.steps),
            device=device,
            progress=progress,
        )
        stages(f"train {model}", start)
        training_steps = read_checkpoint(checkpoint).step
        start = time.perf_counter()
        path = out / "ensembles" / f"{model}.zarr"
        before = path.stat().st_mtime_ns if path.exists() else None
        ensembles[model] = generate(
            checkpoint,
            operational,
            path,
            n_members=settings.n_members,
            n_seeds=settings.n_seeds,
            inits=inits,
            leads=list(settings.leads),
            steps=settings.sampler_steps,
            device=device,
            overwrite=True,
            progress=progress,
        )
        stages(f"generate {model}", start)
        reused = before is not None and path.stat().st_mtime_ns == before  # kept, not remade
        costs[f"{REGISTRY[model].display_name} {settings.n_members}"] = _generation_cost(
            path, None if reused else stages.seconds[f"generate {model}"], device
        )

    start = time.perf_counter()
    scores = score_all(operational, ensembles, inits, settings)
    world = WorldSettings(profile=settings.profile)
    physics_cost = physics_member_seconds(world, members=31)
    costs[f"physics {scores_members(scores, 'physics')}"] = f"{physics_cost:.3f} s (CPU)"
    costs[f"{settings.n_seeds} seeds"] = f"{physics_cost:.3f} s (CPU)"
    stages("score", start)

    start = time.perf_counter()
    report = make_report(
        out / "report",
        scores,
        ensembles,
        operational,
        inits,
        settings,
        training_steps,
        costs,
        stages.seconds,
    )
    stages("report", start)
    (out / "run.json").write_text(
        json.dumps(
            {"settings": asdict(settings), "seconds": stages.seconds, "inits": inits}, indent=1
        )
    )
    return report


def run_record(out: Path) -> tuple[RunSettings, dict]:
    """A finished run's settings and its record (``run.json``: settings, stage seconds,
    held-out inits)."""
    record = json.loads((out / "run.json").read_text())
    settings = RunSettings(**{**record["settings"], "leads": tuple(record["settings"]["leads"])})
    return settings, record


def scores_members(scores: dict[str, xr.Dataset], prefix: str) -> int:
    return next(int(t.attrs["members"]) for n, t in scores.items() if n.startswith(prefix))


def _generation_cost(path: Path, seconds: float | None, device: str) -> str:
    """Seconds per generated member-day (one member at one lead time) and evaluations.

    A reused ensemble (``seconds`` None) costs nothing this time: the figure of the run
    that made it is kept next to it, so the report always shows what generating cost.
    """
    record = path.with_name(path.name + ".cost.json")
    generated = open_complete(path)
    fields = generated.sizes["init_time"] * generated.sizes["lead_time"] * generated.sizes["member"]
    if seconds is None and not record.exists():
        return "unknown (made by an earlier run)"
    if seconds is not None:
        record.write_text(
            json.dumps(
                {
                    "seconds": seconds / fields,
                    "evaluations": generated.attrs["sampler"],
                    "device": device.upper(),
                }
            )
        )
    cost = json.loads(record.read_text())
    return f"{cost['seconds']:.3f} s ({cost.get('device', '?')}), {cost['evaluations']}"


def score_all(
    operational: Path, ensembles: dict[str, Path], inits: list[int], settings: RunSettings
) -> dict[str, xr.Dataset]:
    """Scores of the seeds, the physics ensemble, every generated ensemble and climatology."""
    leads = open_complete(ensembles[MODEL_NAMES[0]])["lead_time"].values
    physics, truth, climatology = held_out(operational, inits, leads)
    variables = list(truth.data_vars)
    candidates = {
        f"{settings.n_seeds} seeds": physics.isel(member=slice(0, settings.n_seeds)),
        f"physics {physics.sizes['member']}": physics,
        **{
            f"{REGISTRY[m].display_name} {settings.n_members}": open_complete(p)[variables]
            for m, p in ensembles.items()
        },
        "climatology": climatological_ensemble(truth, climatology),
    }
    return {
        name: score_ensemble(ensemble[variables], truth, climatology=climatology).compute()
        for name, ensemble in candidates.items()
    }
