"""A conditional VAE that turns K seed members into more members (VAE-CRPS).

Three networks share the condition c = (seed-ensemble mean and std, lead time):

- prior p(z | c) and posterior q(z | c, target): small spherical convolutional encoders
  giving a diagonal Gaussian over *latent fields* (``latent_channels`` maps at the grid
  coarsened ``2^latent_levels`` times), so the perturbations they encode are
  flow-dependent and spatially coherent, not one global vector;
- a decoder, a :class:`~forecast.models.unet.SphereUNet` that maps (upsampled z, c) to a
  member (in training and generation: the scaled residual of a member from the seed mean,
  see :mod:`forecast.samples`; the zero-initialised head starts it at the seed mean).

Training (:meth:`ConditionalVAE.training_loss`) decodes S >= 4 posterior samples per
condition and minimises the fair CRPS of those S members against the target plus beta
times KL(q || p). Generation draws z from the prior: one decoder pass per member.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..scoring.kernels import crps_ensemble
from .sphere import SphereConv2d, SphereDownsample, check_grid, coarsened, upsample_to
from .unet import SphereUNet, UNetConfig


@dataclass(frozen=True)
class VAEConfig:
    variables: int
    cond_channels: int
    width: int = 24
    multipliers: tuple[int, ...] = (1, 2, 2, 2)
    latent_channels: int = 8
    latent_levels: int = 1  # the latent grid is the data grid coarsened 2^latent_levels times
    beta: float = 0.01
    latent_samples: int = 4
    estimator: str = "fair"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> VAEConfig:
        return cls(**{**settings, "multipliers": tuple(settings["multipliers"])})


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
        """Fair CRPS of S decoded posterior samples against the target + beta KL(q || p).

        L = mean_{b,v,i,j} CRPS_f({g(z_s, c)}_{s=1..S}, y) + beta sum_z KL(q || p) / (V H W),
        z_s ~ q(z | c, y) by reparameterisation. FuXi-ENS (Zhong et al. 2024,
        arXiv:2405.05925) trains its VAE with the same two terms, CRPS in place of the L1
        reconstruction loss of a standard VAE; here the KL is normalised per output value
        so that beta weighs nats against CRPS in standardised-anomaly units, and the CRPS
        is the scoring module's (one implementation, differentiable in torch).

        Why beta is small: for y | c ~ N(m, s^2), one latent per value and a linear decoder, let u be the spread
        of the members decoded from the posterior around y. Then KL = ln(1 + s^2/u^2) / 2
        and CRPS_f ~ 0.234 u per value, so the optimum has u (u^2 + s^2) = beta s^2 / 0.234,
        and members drawn from the prior have variance s^2 + u^2. beta = 1 gives u ~ 2 s
        (an ensemble twice too wide); at s = 0.5, beta = 0.01 gives u ~ 0.04 (0.4% too wide).
        """
        fields, lead = condition
        config = self.config
        mean_p, log_var_p = self.prior(fields, lead)
        mean_q, log_var_q = self.posterior(torch.cat([fields, target], dim=1), lead)
        samples = config.latent_samples
        eps = torch.randn(
            (samples, *mean_q.shape), generator=generator, device=target.device, dtype=mean_q.dtype
        )
        z = (mean_q + (0.5 * log_var_q).exp() * eps).flatten(0, 1)  # (S B, L, h, w)
        repeated = (fields.repeat(samples, 1, 1, 1), lead.repeat(samples))
        members = self.decode(z, repeated).unflatten(0, (samples, target.shape[0]))
        crps = crps_ensemble(members.movedim(0, -1).float(), target.float(), config.estimator)
        kl = gaussian_kl(mean_q, log_var_q, mean_p, log_var_p).flatten(1).sum(1)
        return crps.mean() + config.beta * kl.mean() / target[0].numel()
