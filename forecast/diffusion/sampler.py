"""Sampling the EDM denoiser with diffusers' ``EDMDPMSolverMultistepScheduler``.

Noise levels sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
then sigma_N = 0 (Karras et al. 2022, eq. 5). The scheduler applies the same EDM
preconditioning as :class:`~forecast.diffusion.EDMPreconditioner`: it scales the input by
c_in, feeds the network c_noise = ln(sigma) / 4 as its timestep, and turns the network's
output F into D = c_skip x + c_out F, so the project's network is driven directly.

- ``dpmsolver++``: DPM-Solver++(2M) on the probability-flow ODE (Lu et al. 2022,
  arXiv:2211.01095, Algorithm 2), one evaluation per step, first order on the last step;
  deterministic given the starting noise.
- ``sde-dpmsolver++``: its stochastic counterpart (the SDE solver of the same paper,
  midpoint form), fresh noise at every step: x_next = (s'/s) e^(-h) x + (1 - e^(-2h)) D'
  + s' sqrt(1 - e^(-2h)) z with h = ln(s/s').
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import EDMDPMSolverMultistepScheduler

from pipelines.errors import ConfigError

from ..registry import SAMPLERS

# F(c_in x, c_noise): the raw network under the EDM preconditioning
Network = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def edm_scheduler(
    algorithm: str, sigma_min: float, sigma_max: float, sigma_data: float, rho: float
) -> EDMDPMSolverMultistepScheduler:
    """The diffusers scheduler for ``algorithm`` on the Karras schedule, ending at sigma 0."""
    if algorithm not in SAMPLERS:
        raise ConfigError(f"the sampler must be one of {SAMPLERS}, got {algorithm!r}")
    return EDMDPMSolverMultistepScheduler(
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        sigma_data=sigma_data,
        sigma_schedule="karras",
        rho=rho,
        prediction_type="epsilon",  # D = c_skip x + c_out F, EDM's Table 1
        solver_order=2,
        algorithm_type=algorithm,
        solver_type="midpoint",
        final_sigmas_type="zero",
    )


@torch.no_grad()
def sample_edm(
    network: Network,
    noise: torch.Tensor,
    scheduler: EDMDPMSolverMultistepScheduler,
    steps: int,
    generators: list[torch.Generator] | None = None,
) -> torch.Tensor:
    """Integrate from standard-normal ``noise`` (scaled to sigma_max) down to sigma 0 in
    ``steps`` network evaluations.

    ``generators``: one per sample, for the stochastic sampler's noise, so that a sample
    does not depend on the others in its batch.
    """
    if steps < 1:
        raise ConfigError(f"the sampler needs at least one step, got {steps}")
    scheduler.set_timesteps(steps, device=noise.device)
    # the ODE starts at N(0, sigma_max^2); diffusers' init_noise_sigma, sqrt(sigma_max^2 + 1),
    # belongs to inputs scaled for variance-preserving models
    x = noise * scheduler.sigmas[0].to(noise.device)
    for timestep in scheduler.timesteps:
        output = network(scheduler.scale_model_input(x, timestep), timestep.expand(x.shape[0]))
        x = scheduler.step(output.to(x.dtype), timestep, x, generator=generators).prev_sample
    return x
