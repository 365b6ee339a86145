"""The model registry: every generative model the project trains, in one place.

A kind (``seeds-gee``, ``seeds-gpp``, ``vae-crps``) maps to its display name, how its
network is built from the training settings and rebuilt from a checkpoint, and how it
samples. Adding a model is adding a :class:`ModelKind` here; the commands, the
checkpoint and the run read nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

from pipelines.errors import ConfigError

if TYPE_CHECKING:  # the networks are imported when built: `forecast --help` needs no torch
    import torch

    from .diffusion import EDMConfig

# the diffusion samplers (diffusers' EDMDPMSolverMultistepScheduler algorithms)
SAMPLERS = ("dpmsolver++", "sde-dpmsolver++")


class GenerativeModel(Protocol):
    """What training and generation need of a model: a condition in, members out.

    ``condition`` is (seed fields (B, 2V + context, H, W), lead time in days (B,)); members are
    residuals (B, V, H, W) in standardised units.
    """

    def noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The standard-normal draw behind ``shape`` (B, V, H, W) members."""
        ...

    def sample(
        self,
        noise: torch.Tensor,
        condition,
        steps: int | None = None,
        algorithm: str | None = None,
        generators: list[torch.Generator] | None = None,
    ) -> torch.Tensor:
        """Members from starting ``noise``: ``steps`` network evaluations of the sampler
        ``algorithm`` where they apply, its per-step noise from ``generators`` (one per
        sample) where it draws any."""
        ...

    def training_loss(self, target: torch.Tensor, condition, generator=None) -> torch.Tensor:
        """The scalar loss of a batch of targets (B, V, H, W)."""
        ...


@dataclass(frozen=True)
class VAESettings:
    """The VAE-CRPS settings beyond the network's width (see :class:`VAEConfig`)."""

    latent_channels: int = 8
    latent_levels: int = 1
    beta: float = 0.01
    latent_samples: int = 4
    estimator: str = "almost-fair"
    alpha: float = 0.95
    draws: str = "prior"


def _edm_config(**settings) -> EDMConfig:
    from .diffusion import EDMConfig

    return EDMConfig(**settings)


@dataclass(frozen=True)
class Architecture:
    """The network settings a training run chooses (the rest follows from the data)."""

    width: int = 24
    multipliers: tuple[int, ...] = (1, 2, 2, 2)
    edm: EDMConfig = field(default_factory=_edm_config)
    vae: VAESettings = field(default_factory=VAESettings)
    # the forecast.context fields the network is given beside the seed statistics
    context: tuple[str, ...] = ()
    static: tuple[str, ...] = ()  # the store's static fields, with the static context
    blocks_per_level: int = 1
    attention_levels: int = 1  # coarsest levels with global attention (see SphereUNet)
    heads: int = 4
    activation_checkpointing: bool = False

    def condition_channels(self, n_vars: int) -> int:
        """Seed mean and std per variable, then the context fields."""
        from .context import context_channels

        return 2 * n_vars + context_channels(self.context, n_vars, len(self.static))

    def backbone(self) -> dict:
        """The :class:`~forecast.models.unet.UNetConfig` settings of this architecture."""
        return {
            "width": self.width,
            "multipliers": tuple(self.multipliers),
            "blocks_per_level": self.blocks_per_level,
            "attention_levels": self.attention_levels,
            "heads": self.heads,
            "activation_checkpointing": self.activation_checkpointing,
        }


@dataclass(frozen=True)
class Sampler:
    """How members are drawn: a diffusion sampler of :data:`SAMPLERS` (``dpmsolver++``,
    ``sde-dpmsolver++``) with ``steps`` network evaluations, or ``decoder`` (one pass)."""

    name: str
    steps: int | None = None

    @property
    def stochastic(self) -> bool:
        return self.name.startswith("sde-")

    def with_settings(self, name: str | None = None, steps: int | None = None) -> Sampler:
        """This sampler with another ``name`` and/or ``steps`` (None: keep)."""
        if self.name == "decoder":
            if name not in (None, "decoder"):
                raise ConfigError(
                    f"--sampler {name} is for the diffusion models; this model draws each "
                    "member with one decoder pass"
                )
            return self
        name = name or self.name
        if name not in SAMPLERS:
            raise ConfigError(f"the sampler must be one of {SAMPLERS}, got {name!r}")
        if steps is not None and steps < 1:
            raise ConfigError(f"the sampler needs at least one step, got {steps}")
        return Sampler(name, steps or self.steps)

    def describe(self) -> str:
        """The words the output store and the report use."""
        if self.name == "decoder":
            return "prior, one decoder pass"
        solver = "SDE-DPM-Solver++(2M)" if self.stochastic else "DPM-Solver++(2M)"
        return f"{solver}, {self.steps} steps"


@dataclass(frozen=True)
class ModelKind:
    """One trainable model: names, network builders and sampler."""

    name: str
    display_name: str
    description: str
    build: Callable[[int, Architecture], tuple[torch.nn.Module, dict]]
    rebuild: Callable[[dict], torch.nn.Module]
    default_sampler: Callable[[dict], Sampler]
    # the training targets may come from the reanalysis (post-processing): SEEDS-GPP and
    # VAE-CRPS; the share a run takes unless told (--truth-fraction)
    reanalysis_targets: bool = False
    default_truth_fraction: float = 0.0
    # samples per optimiser step: a VAE decodes latent_samples members per condition
    batch_divisor: Callable[[Architecture], int] = lambda architecture: 1


def _build_diffusion(n_vars: int, architecture: Architecture) -> tuple[torch.nn.Module, dict]:
    from .diffusion import EDMPreconditioner
    from .models import SphereUNet, UNetConfig

    unet = UNetConfig(
        in_channels=n_vars,
        cond_channels=architecture.condition_channels(n_vars),
        out_channels=n_vars,
        **architecture.backbone(),
    )
    model = EDMPreconditioner(SphereUNet(unet), architecture.edm)
    return model, {"unet": unet.as_dict(), "edm": asdict(architecture.edm)}


def _rebuild_diffusion(settings: dict) -> torch.nn.Module:
    from .diffusion import EDMPreconditioner
    from .models import SphereUNet, UNetConfig

    unet = UNetConfig(**{**settings["unet"], "multipliers": tuple(settings["unet"]["multipliers"])})
    return EDMPreconditioner(SphereUNet(unet), _edm_config(**settings["edm"]))


def _build_vae(n_vars: int, architecture: Architecture) -> tuple[torch.nn.Module, dict]:
    from .models import ConditionalVAE, VAEConfig

    vae = VAEConfig(
        variables=n_vars,
        cond_channels=architecture.condition_channels(n_vars),
        **architecture.backbone(),
        **asdict(architecture.vae),
    )
    return ConditionalVAE(vae), {"vae": vae.as_dict()}


def _rebuild_vae(settings: dict) -> torch.nn.Module:
    from .models import ConditionalVAE, VAEConfig

    return ConditionalVAE(VAEConfig.from_dict(settings["vae"]))


def _diffusion_sampler(settings: dict) -> Sampler:
    return Sampler("dpmsolver++", int(settings["edm"]["sampler_steps"]))


_DIFFUSION = {
    "build": _build_diffusion,
    "rebuild": _rebuild_diffusion,
    "default_sampler": _diffusion_sampler,
}

REGISTRY: dict[str, ModelKind] = {
    kind.name: kind
    for kind in (
        ModelKind(
            "seeds-gee",
            "SEEDS-GEE",
            "emulate more members of the same ensemble from K seeds (EDM diffusion)",
            **_DIFFUSION,
        ),
        ModelKind(
            "seeds-gpp",
            "SEEDS-GPP",
            "targets mix reanalysis and members: a bias-corrected ensemble (EDM diffusion)",
            reanalysis_targets=True,
            default_truth_fraction=1.0,
            **_DIFFUSION,
        ),
        ModelKind(
            "vae-crps",
            "VAE-CRPS",
            "a conditional VAE whose prior draws are trained with the ensemble CRPS, one "
            "decoder pass per member; --truth-fraction makes it a post-processor",
            build=_build_vae,
            reanalysis_targets=True,
            rebuild=_rebuild_vae,
            default_sampler=lambda settings: Sampler("decoder"),
            batch_divisor=lambda architecture: architecture.vae.latent_samples,
        ),
    )
}
MODEL_NAMES = tuple(REGISTRY)


def model_kind(name: str) -> ModelKind:
    """The registered kind ``name``; a :class:`ConfigError` listing the kinds otherwise."""
    if name not in REGISTRY:
        raise ConfigError(f"model must be one of {MODEL_NAMES}, got {name!r}")
    return REGISTRY[name]
