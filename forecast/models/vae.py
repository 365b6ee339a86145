"""A conditional VAE that turns K seed members into more members (VAE-CRPS).

Its networks share the condition c = (seed-ensemble mean and std, lead time):

- prior p(z | c) (and, for the ``posterior`` and ``both`` losses below, a posterior
  q(z | c, target)): small spherical convolutional encoders
  giving a diagonal Gaussian over *latent fields* (``latent_channels`` maps at the grid
  coarsened ``2^latent_levels`` times), so the perturbations they encode are
  flow-dependent and spatially coherent, not one global vector;
- a decoder, a :class:`~forecast.models.unet.SphereUNet` that maps (upsampled z, c) to a
  member (in training and generation: the scaled residual of a member from the seed mean,
  see :mod:`forecast.samples`; the zero-initialised head starts it at the seed mean).

Training (:meth:`ConditionalVAE.training_loss`) decodes S >= 4 latent draws per
condition and minimises the (almost) fair CRPS of those S members against the target. Which draws
is ``draws``: ``prior`` (the default) scores members drawn exactly as generation draws
them, z ~ p(z | c), so a proper score makes the *generated* ensemble calibrated (as in
FGN, Alet et al. 2025, arXiv:2506.10772: the noise is the model's input and the CRPS is
taken over members sharing a condition; no posterior is built); ``posterior`` scores
draws from q(z | c, y), which know the target, plus beta KL(q || p): FuXi-ENS's loss
(Zhong et al. 2024, arXiv:2405.05925), whose prior draws came out under-dispersed
(spread-skill 0.4, benchmarks/RESULTS.md); ``both`` sums the two. Generation draws z
from the prior: one decoder pass per member.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from pipelines.errors import ConfigError

from ..scoring.kernels import crps_ensemble
from .sphere import SphereConv2d, SphereDownsample, check_grid, coarsened, upsample_to
from .unet import SphereUNet, UNetConfig

DRAWS = ("prior", "posterior", "both")
LOSS_ESTIMATORS = ("fair", "nrg", "almost-fair")


@dataclass(frozen=True)
class VAEConfig:
    variables: int
    cond_channels: int
    width: int = 24
    multipliers: tuple[int, ...] = (1, 2, 2, 2)
    # the decoder's UNet (see UNetConfig; 0 attention levels for checkpoints made before)
    blocks_per_level: int = 1
    attention_levels: int = 0
    heads: int = 4
    activation_checkpointing: bool = False
    latent_channels: int = 8
    latent_levels: int = 1  # the latent grid is the data grid coarsened 2^latent_levels times
    beta: float = 0.01
    latent_samples: int = 4
    # fair, nrg or almost-fair (alpha fair + (1 - alpha) nrg): almost-fair was as good in
    # CRPS and 3-6% less over-dispersed than fair on the world (benchmarks/RESULTS.md)
    estimator: str = "almost-fair"
    alpha: float = 0.95
    draws: str = "prior"  # the latent draws the CRPS scores: prior, posterior or both

    def __post_init__(self) -> None:
        if self.draws not in DRAWS:
            raise ConfigError(f"the VAE's draws must be one of {DRAWS}, got {self.draws!r}")
        if self.estimator not in LOSS_ESTIMATORS:
            raise ConfigError(
                f"the VAE's estimator must be one of {LOSS_ESTIMATORS}, got {self.estimator!r}"
            )
        if self.latent_samples < 2:
            raise ConfigError(
                f"the VAE needs at least 2 latent draws per condition (an ensemble CRPS), "
                f"got {self.latent_samples}"
            )

    @property
    def has_posterior(self) -> bool:
        return self.draws != "prior"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> VAEConfig:
        # checkpoints written before ``draws`` existed were trained on posterior draws
        return cls(
            **{"draws": "posterior", **settings, "multipliers": tuple(settings["multipliers"])}
        )


class LatentEncoder(torch.nn.Module):
    """Fields (B, C, H, W) and lead (B,) -> mean and log-variance of (B, L, h, w), the grid
    coarsened n times by :func:`~forecast.models.sphere.sphere_downsample` (h = H/2^n for
    sizes that divide, rounded up otherwise)."""

    def __init__(self, channels_in: int, latent: int, width: int, levels: int) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = [SphereConv2d(channels_in + 1, width), torch.nn.SiLU()]
        for _ in range(levels):
            layers += [SphereDownsample(), SphereConv2d(width, width), torch.nn.SiLU()]
        layers.append(SphereConv2d(width, 2 * latent))
        self.layers = torch.nn.Sequential(*layers)

    def forward(
        self, fields: torch.Tensor, lead: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lead_map = (lead.to(fields.dtype) / 10).reshape(-1, 1, 1, 1).expand_as(fields[:, :1])
        mean, log_var = self.layers(torch.cat([fields, lead_map], dim=1)).chunk(2, dim=1)
        # bounded so that exp() can neither vanish nor explode early in training
        return mean, log_var.clamp(-12.0, 6.0)


def ensemble_crps_loss(
    members: torch.Tensor, target: torch.Tensor, estimator: str, alpha: float = 0.95
) -> torch.Tensor:
    """Mean CRPS of members (..., S) against target (...) by ``estimator``.

    ``almost-fair``: afCRPS_alpha = alpha CRPS_f + (1 - alpha) CRPS_nrg (Lang et al. 2024,
    AIFS-CRPS, arXiv:2412.15832): nearly free of the standard estimator's bias with
    ensemble size, without a degeneracy of the fair one. For a Gaussian truth the
    mix is minimised by S members of spread sigma c / sqrt(2 - c^2), c = 1 - (1 - alpha) / S:
    about 2 (1 - alpha) / S narrower than the truth's sigma (2.5% for alpha 0.95, S = 4).
    """
    if estimator != "almost-fair":
        return crps_ensemble(members, target, estimator).mean()
    # one sort: with P the pairwise term, fair = E|x - y| - P / (M (M - 1)) and
    # nrg = E|x - y| - P / M^2, so nrg - fair = (E|x - y| - fair) / M
    fair = crps_ensemble(members, target, "fair")
    absolute = (members - target[..., None]).abs().mean(-1)
    return (fair + (1 - alpha) * (absolute - fair) / members.shape[-1]).mean()


def gaussian_kl(
    mean_q: torch.Tensor, log_var_q: torch.Tensor, mean_p: torch.Tensor, log_var_p: torch.Tensor
) -> torch.Tensor:
    """KL(N(mq, vq) || N(mp, vp)) per element: (ln vp - ln vq + (vq + (mq - mp)^2) / vp - 1) / 2."""
    return 0.5 * (
        log_var_p - log_var_q + (log_var_q.exp() + (mean_q - mean_p) ** 2) / log_var_p.exp() - 1
    )


class ConditionalVAE(torch.nn.Module):
    """p(z | c), q(z | c, y) and the decoder y = g(z, c); condition c = (fields, lead)."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        self.prior = LatentEncoder(
            config.cond_channels, config.latent_channels, config.width, config.latent_levels
        )
        if config.has_posterior:
            self.posterior = LatentEncoder(
                config.cond_channels + config.variables,
                config.latent_channels,
                config.width,
                config.latent_levels,
            )
        self.decoder = SphereUNet(
            UNetConfig(
                in_channels=config.latent_channels,
                cond_channels=config.cond_channels,
                out_channels=config.variables,
                width=config.width,
                multipliers=config.multipliers,
                blocks_per_level=config.blocks_per_level,
                attention_levels=config.attention_levels,
                heads=config.heads,
                activation_checkpointing=config.activation_checkpointing,
            )
        )

    def noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the standard-normal draw behind members of ``shape`` (B, V, H, W)."""
        check_grid(shape[-2:], max(self.config.latent_levels + 1, len(self.config.multipliers)))
        latent = coarsened(shape[-2:], self.config.latent_levels)
        return (shape[0], self.config.latent_channels, *latent)

    def decode(self, z: torch.Tensor, condition: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        fields, lead = condition
        # each fine cell takes the latent cell sphere_downsample pooled it into
        upsampled = upsample_to(z, fields.shape[-2:], 2**self.config.latent_levels)
        c_noise = torch.zeros(z.shape[0], device=z.device, dtype=z.dtype)
        return self.decoder(upsampled, (fields, lead), c_noise)

    def sample(
        self,
        noise: torch.Tensor,
        condition: tuple[torch.Tensor, torch.Tensor],
        steps: int | None = None,  # one decoder pass whatever the sampler: the model interface
        algorithm: str | None = None,
        generators: list[torch.Generator] | None = None,
    ) -> torch.Tensor:
        """Members from the prior: z = mu_p + sigma_p * noise, then one decoder pass."""
        mean, log_var = self.prior(*condition)
        return self.decode(mean + (0.5 * log_var).exp() * noise.to(mean.dtype), condition)

    def training_loss(
        self,
        target: torch.Tensor,
        condition: tuple[torch.Tensor, torch.Tensor],
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Fair CRPS of S decoded latent draws per condition against the target (+ KL).

        ``prior``: L = mean_{b,v,i,j} CRPS_f({g(z_s, c)}_{s=1..S}, y), z_s ~ p(z | c) by
        reparameterisation: the expected score of the ensemble generation draws, minimised
        (the fair CRPS is proper for the distribution the members come from, Ferro 2014)
        when that distribution is the conditional law of y, so nothing but the score asks
        for spread. CRPS_f here is ``estimator``'s (see :func:`ensemble_crps_loss`).

        ``posterior``: the same CRPS on z_s ~ q(z | c, y) plus beta sum_z KL(q || p) / (V H W),
        the KL normalised per output value so that beta weighs nats against CRPS in
        standardised-anomaly units. In theory this is calibrated too: for y | c ~ N(m, s^2),
        one latent per value and a linear decoder, with u the spread of posterior members
        around y, KL = ln(1 + s^2/u^2) / 2 and CRPS_f ~ 0.234 u, the optimum has
        u (u^2 + s^2) = beta s^2 / 0.234 and prior members have variance s^2 + u^2. In
        practice only the small KL trains the prior, and the prior draws come out far too
        alike (benchmarks/RESULTS.md, "VAE-CRPS: calibrated prior draws").

        ``both``: the sum of the two.
        """
        fields, lead = condition
        config = self.config
        mean_p, log_var_p = self.prior(fields, lead)
        loss = torch.zeros((), device=target.device)
        if config.draws in ("prior", "both"):
            loss = loss + self._draws_crps(mean_p, log_var_p, target, condition, generator)
        if config.has_posterior:
            mean_q, log_var_q = self.posterior(torch.cat([fields, target], dim=1), lead)
            loss = loss + self._draws_crps(mean_q, log_var_q, target, condition, generator)
            kl = gaussian_kl(mean_q, log_var_q, mean_p, log_var_p).flatten(1).sum(1)
            loss = loss + config.beta * kl.mean() / target[0].numel()
        return loss

    def _draws_crps(
        self,
        mean: torch.Tensor,
        log_var: torch.Tensor,
        target: torch.Tensor,
        condition: tuple[torch.Tensor, torch.Tensor],
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """Mean CRPS of S members decoded from z_s = mean + exp(log_var / 2) eps_s."""
        fields, lead = condition
        samples = self.config.latent_samples
        eps = torch.randn(
            (samples, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype
        )
        z = (mean + (0.5 * log_var).exp() * eps).flatten(0, 1)  # (S B, L, h, w)
        repeated = (fields.repeat(samples, 1, 1, 1), lead.repeat(samples))
        members = self.decode(z, repeated).unflatten(0, (samples, target.shape[0]))
        return ensemble_crps_loss(
            members.movedim(0, -1).float(), target.float(), self.config.estimator, self.config.alpha
        )
