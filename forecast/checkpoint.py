"""The checkpoint: a trained model's weights and everything needed to use them, typed.

A checkpoint is a folder:

- ``model.safetensors``: the EMA weights (what generation uses);
- ``config.json``: a :class:`Checkpoint` (kind, variables, grid coordinates, residual
  scale, architecture, sampler, the context fields it takes, training step and settings,
  provenance, the quantile map fitted after training);
- ``state.pt`` and ``losses.json``: written by training, for resuming (see
  :mod:`forecast.train`).

Every reader goes through :func:`load_checkpoint` or :func:`read_checkpoint`; nothing
else reads the JSON. Version 1 (no ``version`` key: before the typed checkpoint) is read
as well; a newer version than this code knows is refused by name.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from pipelines.errors import DataError, describe
from pipelines.store import write_json_atomic

from .context import parse_context
from .quantile_map import QuantileMap
from .registry import REGISTRY, ModelKind, Sampler
from .samples import ResidualScale

CHECKPOINT_VERSION = 4  # 3: context fields; 4: the quantile map


@dataclass(frozen=True)
class Checkpoint:
    """What a trained model is and was trained on; ``config.json`` of a checkpoint folder."""

    kind: str
    variables: tuple[str, ...]
    lat: tuple[float, ...]  # the grid's centres the model was trained on
    lon: tuple[float, ...]
    residual_scale: ResidualScale  # members = seed mean + s(lead) * residual
    architecture: dict[str, Any]  # the network settings its kind rebuilds it from
    sampler: Sampler
    step: int = 0
    parameters: int = 0
    training: dict[str, Any] = field(default_factory=dict)  # TrainConfig, for the record
    data: str = ""  # the store it was trained on
    # the forecast.context fields the network takes after the seed statistics (none before 3)
    context: tuple[str, ...] = ()
    static: tuple[str, ...] = ()  # the static fields of the context, in channel order
    # generated precipitation -> the training targets' distribution (none before 4, or
    # without precipitation, or trained with --no-quantile-map)
    quantile_map: QuantileMap | None = None
    version: int = CHECKPOINT_VERSION

    @property
    def model_kind(self) -> ModelKind:
        return REGISTRY[self.kind]

    def build_model(self) -> torch.nn.Module:
        """The untrained network this checkpoint's weights belong to."""
        return self.model_kind.rebuild(self.architecture)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # tuples are JSON arrays

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Checkpoint:
        """Read a ``config.json`` of any known version; KeyError/TypeError if malformed."""
        version = raw.get("version", 1)
        if not isinstance(version, int) or version > CHECKPOINT_VERSION:
            raise DataError(
                f"config.json is checkpoint version {version}; this forecast reads versions "
                f"1 to {CHECKPOINT_VERSION}: update forecast to use it"
            )
        if raw.get("kind") not in REGISTRY:
            raise KeyError(f"kind {raw.get('kind')!r} is not one of {tuple(REGISTRY)}")
        if version == 1:
            raw = _from_version_1(raw)
        return cls(
            kind=raw["kind"],
            variables=tuple(raw["variables"]),
            lat=tuple(float(v) for v in raw["lat"]),
            lon=tuple(float(v) for v in raw["lon"]),
            residual_scale=ResidualScale(**raw["residual_scale"]),
            architecture=dict(raw["architecture"]),
            sampler=Sampler(**raw["sampler"]),
            step=int(raw.get("step", 0)),
            parameters=int(raw.get("parameters", 0)),
            training=dict(raw.get("training", {})),
            data=str(raw.get("data", "")),
            context=parse_context(raw.get("context", ())),
            static=tuple(str(name) for name in raw.get("static", ())),
            quantile_map=(
                QuantileMap.from_json(raw["quantile_map"]) if raw.get("quantile_map") else None
            ),
        )


def _from_version_1(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept the network settings at the top level and the grid under ``grid``."""
    architecture = {key: raw[key] for key in ("unet", "edm", "vae") if key in raw}
    return {
        "kind": raw["kind"],
        "variables": raw["variables"],
        "lat": raw["grid"]["lat"],
        "lon": raw["grid"]["lon"],
        "residual_scale": raw["residual_scale"],
        "architecture": architecture,
        "sampler": asdict(REGISTRY[raw["kind"]].default_sampler(architecture)),
        "step": raw.get("step", 0),
        "parameters": raw.get("parameters", 0),
        "training": raw.get("train", {}),
        "data": raw.get("data", ""),
    }


def save_checkpoint(folder: Path, model: torch.nn.Module, checkpoint: Checkpoint) -> None:
    """Weights and config, each written to a temporary file and renamed (never half-written)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"model.safetensors.tmp{os.getpid()}"
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(tmp))
    os.replace(tmp, folder / "model.safetensors")
    save_config(folder, checkpoint)


def save_config(folder: Path, checkpoint: Checkpoint) -> None:
    """``config.json`` alone (the weights unchanged), written to a temporary file and renamed."""
    write_json_atomic(folder / "config.json", checkpoint.to_json(), indent=1, default=str)


def read_checkpoint(folder: str | Path) -> Checkpoint:
    """The :class:`Checkpoint` of a folder, without its weights."""
    folder = Path(folder)
    weights, config_file = folder / "model.safetensors", folder / "config.json"
    if not weights.is_file() or not config_file.is_file():
        raise DataError(
            "not a checkpoint folder (needs model.safetensors and config.json)", str(folder)
        )
    try:
        return Checkpoint.from_json(json.loads(config_file.read_text()))
    except DataError as error:
        raise DataError(str(error), str(folder)) from None
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
        raise DataError(
            f"config.json is not a forecast model config ({describe(error)})", str(folder)
        ) from None


def load_checkpoint(folder: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, Checkpoint]:
    """The EMA model (a :class:`~forecast.registry.GenerativeModel`, in eval mode on
    ``device``) and its :class:`Checkpoint`; refuses anything but safetensors + JSON."""
    folder = Path(folder)
    checkpoint = read_checkpoint(folder)
    try:
        model = checkpoint.build_model()
    except (KeyError, TypeError) as error:
        raise DataError(
            f"config.json is not a forecast model config ({describe(error)})", str(folder)
        ) from None
    try:
        state = load_file(str(folder / "model.safetensors"), device="cpu")
    except Exception as error:  # safetensors raises its own error types
        raise DataError(
            f"model.safetensors cannot be read ({describe(error)}); the file is "
            "truncated or not a safetensors file",
            str(folder),
        ) from None
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise DataError(
            f"weights do not match the config ({str(error)[:200]})", str(folder)
        ) from None
    return model.to(device).eval(), checkpoint
