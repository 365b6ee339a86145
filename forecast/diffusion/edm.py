"""EDM preconditioning and training loss (Karras et al. 2022, "Elucidating the Design
Space of Diffusion-Based Generative Models", NeurIPS, Table 1 and sect. 5).

The denoiser D(x; sigma) = c_skip x + c_out F(c_in x, c_noise) with

    c_skip = sd^2 / (sigma^2 + sd^2),   c_out = sigma sd / sqrt(sigma^2 + sd^2),
    c_in = 1 / sqrt(sigma^2 + sd^2),    c_noise = ln(sigma) / 4,

(sd the data standard deviation) keeps the network's inputs and targets at unit
variance at every noise level. Training draws ln sigma ~ N(P_mean, P_std^2) and
weights the squared error by lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .sampler import edm_scheduler, sample_edm


@dataclass(frozen=True)
class EDMConfig:
    sigma_data: float = 1.0  # inputs are standardised anomalies
    # ln(sigma) ~ N(p_mean, p_std^2) in training. EDM's -1.2 (Karras et al. 2022, for
    # images) puts 6% of samples above sigma = 2, where the denoiser learns the members'
    # mean; at 0 that is 28%, and the quick budget learns the shrinkage toward climatology
    # at long leads: z500 CRPS 5.8% lower at day 10 in the perfect-model world, the same at
    # day 1 (benchmarks/RESULTS.md, "Context, global attention and the noise levels")
    p_mean: float = 0.0
    p_std: float = 1.2
    # Sampling range: the data are unit-variance anomalies, so sigma_max = 20 sd already
    # makes the start indistinguishable from pure noise; with sigma_min = 0.02, 32-step
    # DPM-Solver++(2M) gets Gaussian variances right to about 1% (tests/forecast/test_diffusion.py).
    sigma_min: float = 0.02
    sigma_max: float = 20.0
    rho: float = 7.0
    # the cheapest within 1% CRPS and 2% spread of 256 steps on the world (benchmarks/RESULTS.md,
    # "Sampler: CRPS against network evaluations"); checkpoints keep the value they were made with
    sampler_steps: int = 16


class EDMPreconditioner(torch.nn.Module):
    """Wraps a network F(x_in, condition, c_noise) into the denoiser D(x; sigma, condition)."""

    def __init__(self, network: torch.nn.Module, config: EDMConfig | None = None) -> None:
        super().__init__()
        self.network = network
        self.config = config or EDMConfig()

    def forward(
        self, x: torch.Tensor, sigma: torch.Tensor, condition: torch.Tensor | None = None
    ) -> torch.Tensor:
        sd = self.config.sigma_data
        sigma = sigma.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        total = sigma**2 + sd**2
        c_skip = sd**2 / total
        c_out = sigma * sd / total.sqrt()
        c_in = 1 / total.sqrt()
        c_noise = sigma.log().flatten() / 4
        return c_skip * x + c_out * self.network(c_in * x, condition, c_noise)

    def training_loss(
        self, target: torch.Tensor, condition=None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return edm_loss(self, target, condition, generator)

    def noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The sampler starts from standard normal noise of the samples' own shape."""
        return tuple(shape)

    @torch.no_grad()
    def sample(
        self,
        noise: torch.Tensor,
        condition=None,
        steps: int | None = None,
        algorithm: str | None = None,
        generators: list[torch.Generator] | None = None,
    ) -> torch.Tensor:
        """Samples from starting ``noise`` in ``steps`` evaluations (default: the config's)
        with diffusers' EDM DPM-Solver++ (``algorithm``: ``dpmsolver++`` or
        ``sde-dpmsolver++``, whose step noise comes from ``generators``, one per sample;
        default ``dpmsolver++``)."""
        config = self.config
        scheduler = edm_scheduler(
            algorithm or "dpmsolver++",
            config.sigma_min,
            config.sigma_max,
            config.sigma_data,
            config.rho,
        )
        return sample_edm(
            lambda x_in, c_noise: self.network(x_in, condition, c_noise),
            noise,
            scheduler,
            steps or config.sampler_steps,
            generators,
        )


class DenoiserNetwork(torch.nn.Module):
    """The network F whose preconditioned output is a given denoiser D(x, sigma):
    F = (D(x) - c_skip x) / c_out at x = x_in / c_in (in float64). Wraps a closed-form
    denoiser (e.g. the optimal one of Gaussian data) as an oracle for the samplers;
    ``calls`` counts the evaluations."""

    def __init__(self, denoise, sigma_data: float = 1.0) -> None:
        super().__init__()
        self.denoise, self.sigma_data, self.calls = denoise, sigma_data, 0

    def forward(self, x_in: torch.Tensor, condition, c_noise: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        sigma = (4 * c_noise.to(torch.float64)).exp().reshape(-1, *([1] * (x_in.ndim - 1)))
        total = sigma**2 + self.sigma_data**2
        x = x_in.to(torch.float64) * total.sqrt()
        c_skip, c_out = self.sigma_data**2 / total, sigma * self.sigma_data / total.sqrt()
        return ((self.denoise(x, sigma.flatten()) - c_skip * x) / c_out).to(x_in.dtype)


def edm_loss(
    denoiser: EDMPreconditioner,
    target: torch.Tensor,
    condition: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Weighted denoising loss averaged over the batch (one noise level per sample)."""
    config = denoiser.config
    shape = (target.shape[0], *([1] * (target.ndim - 1)))
    normal = torch.randn(shape, generator=generator, device=target.device, dtype=target.dtype)
    sigma = (normal * config.p_std + config.p_mean).exp()
    noise = (
        torch.randn(target.shape, generator=generator, device=target.device, dtype=target.dtype)
        * sigma
    )
    denoised = denoiser(target + noise, sigma.flatten(), condition)
    weight = (sigma**2 + config.sigma_data**2) / (sigma * config.sigma_data) ** 2
    return (weight * (denoised - target) ** 2).mean()
